"""Evaluation on the validation splits, one report per declared source (twitter topic, twitter
sentiment, SEntFiN news sentiment): per-class P/R/F1, accuracy, macro-F1, confusion matrix and
calibration (ECE)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from classify.predictor import Predictor
from classify.training.data import Example, data_files, load_sources, sha256
from classify.training.metrics import classification_report
from classify.training.sources import EVALUATION_SOURCES, Source


def head_probabilities(
    predictor: Predictor, examples: list[Example], head: str
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The gold labels of ``head`` ('topic' or 'sentiment') and that head's probabilities."""
    y = np.array([getattr(ex, head) for ex in examples], dtype=np.int64)
    t_probs, s_probs = predictor.probabilities([ex.text for ex in examples])
    return y, (t_probs if head == "topic" else s_probs).astype(np.float64)


def validation_sets(
    data_dir: Path, sources: tuple[Source, ...] = EVALUATION_SOURCES, split: str = "valid"
) -> dict[str, tuple[Source, list[Example]]]:
    """Each source that has ``split``, with its rows, in declaration order."""
    rows = load_sources(data_dir, split, sources)
    return {s.name: (s, rows[s.name]) for s in sources if s.name in rows}


def evaluate(
    predictor: Predictor,
    data_dir: Path,
    split: str = "valid",
    sources: tuple[Source, ...] = EVALUATION_SOURCES,
) -> dict[str, Any]:
    started = time.monotonic()
    report: dict[str, Any] = {"model_version": predictor.version, "split": split, "sources": {}}
    for name, (source, examples) in validation_sets(data_dir, sources, split).items():
        labels = predictor.topics if source.head == "topic" else predictor.sentiments
        y, probs = head_probabilities(predictor, examples, source.head)
        report["sources"][name] = {"head": source.head} | classification_report(
            y, probs, list(labels)
        )
    report["seconds"] = round(time.monotonic() - started, 1)
    report["data"] = {
        name: {"file": f"{p.parent.name}/{p.name}", "sha256": sha256(p)}
        for name, p in data_files(data_dir, split, sources).items()
    }
    return report


def _title(name: str, r: dict[str, Any]) -> str:
    parts = [f"{name} ({r['head']})"]
    if "negative" in r["per_class"]:
        # The monitor's one signal is the negative share: the bad news it misses comes first.
        parts.append(f"negative recall {r['per_class']['negative']['recall']:.4f}")
    parts += [
        f"accuracy {r['accuracy']:.4f}",
        f"macro-F1 {r['macro_f1']:.4f}",
        f"ECE {r['ece']:.4f}",
        f"n={r['n']}",
    ]
    return " · ".join(parts)


def print_report(report: dict[str, Any], console: Console) -> None:
    for name, r in report["sources"].items():
        table = Table(title=_title(name, r))
        for col in ("class", "precision", "recall", "F1", "support"):
            table.add_column(col, justify="left" if col == "class" else "right")
        classes = list(r["per_class"])
        if "negative" in classes:
            classes.remove("negative")
            classes.insert(0, "negative")
        for label in classes:
            m = r["per_class"][label]
            table.add_row(
                label,
                f"{m['precision']:.3f}",
                f"{m['recall']:.3f}",
                f"{m['f1']:.3f}",
                str(m["support"]),
            )
        console.print(table)
        matrix = Table(title=f"{name} confusion matrix (rows: true, columns: predicted)")
        matrix.add_column("")
        short = [label.split(" ")[0][:6] for label in r["labels"]]
        for col in short:
            matrix.add_column(col, justify="right")
        for row_name, row in zip(short, r["confusion_matrix"], strict=True):
            matrix.add_row(row_name, *(str(v) if v else "." for v in row))
        console.print(matrix)


def save_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
