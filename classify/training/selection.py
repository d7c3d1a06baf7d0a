"""Model selection on the holdout: metrics per head and per source, and the one score that
early stopping keeps the best epoch by."""

from __future__ import annotations

from typing import Any

import numpy as np

from classify.labels import IGNORE, SENTIMENTS, TOPICS
from classify.predictor import Predictor
from classify.training.data import Example
from classify.training.metrics import classification_report


def holdout_report(predictor: Predictor, examples: list[Example]) -> dict[str, Any]:
    """Both heads' metrics on the examples that carry each head's label, over all sources
    (``topic``, ``sentiment``), and per source (``sources``: name -> that head's metrics)."""
    report: dict[str, Any] = {}
    t_probs, s_probs = predictor.probabilities([ex.text for ex in examples])
    per_source: dict[str, Any] = {}
    for head, labels in (("topic", list(TOPICS)), ("sentiment", list(SENTIMENTS))):
        probs = (t_probs if head == "topic" else s_probs).astype(np.float64)
        keep = [i for i, ex in enumerate(examples) if getattr(ex, head) != IGNORE]
        if not keep:
            continue
        y = np.array([getattr(examples[i], head) for i in keep], dtype=np.int64)
        report[head] = classification_report(y, probs[keep], labels)
        names = sorted({examples[i].source for i in keep})
        for name in names:
            part = [i for i in keep if examples[i].source == name]
            y_part = np.array([getattr(examples[i], head) for i in part], dtype=np.int64)
            per_source[name] = classification_report(y_part, probs[part], labels)
    if per_source:
        report["sources"] = per_source
    return report


def holdout_score(report: dict[str, Any]) -> float:
    # Equal say for every source (news and tweets alike), and for accuracy and macro-F1 (rare
    # topics matter); without per-source figures, for both heads.
    groups = report.get("sources") or {h: report[h] for h in ("topic", "sentiment") if h in report}
    parts = [g[m] for g in groups.values() for m in ("accuracy", "macro_f1")]
    return float(np.mean(parts)) if parts else 0.0


def holdout_summary(report: dict[str, Any]) -> dict[str, Any]:
    """Accuracy and macro-F1 of a holdout report, per head and per source (training.json)."""

    def short(r: dict[str, Any]) -> dict[str, float]:
        return {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"]}

    out: dict[str, Any] = {h: short(r) for h, r in report.items() if h != "sources"}
    if "sources" in report:
        out["sources"] = {name: short(r) for name, r in report["sources"].items()}
    return out


def holdout_line(report: dict[str, Any]) -> str:
    groups = report.get("sources") or {h: report[h] for h in ("topic", "sentiment") if h in report}
    return " ".join(
        f"{name}: acc {r['accuracy']:.3f} macro-F1 {r['macro_f1']:.3f}"
        for name, r in groups.items()
    )
