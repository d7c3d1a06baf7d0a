"""Evaluation on the validation splits: per-class P/R/F1, accuracy, macro-F1, confusion
matrices and calibration (ECE) for both heads."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from classify.data import Example, data_files, load_split, sha256
from classify.metrics import classification_report
from classify.predictor import Predictor


def head_probabilities(
    predictor: Predictor, examples: list[Example], head: str
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The gold labels of ``head`` ('topic' or 'sentiment') and that head's probabilities."""
    y = np.array([getattr(ex, head) for ex in examples], dtype=np.int64)
    t_probs, s_probs = predictor.probabilities([ex.text for ex in examples])
    return y, (t_probs if head == "topic" else s_probs).astype(np.float64)


def evaluate(predictor: Predictor, data_dir: Path, split: str = "valid") -> dict[str, Any]:
    topic_ex, sentiment_ex = load_split(data_dir, split)
    started = time.monotonic()
    report: dict[str, Any] = {"model_version": predictor.version, "split": split}
    for head, examples, labels in (
        ("topic", topic_ex, predictor.topics),
        ("sentiment", sentiment_ex, predictor.sentiments),
    ):
        y, probs = head_probabilities(predictor, examples, head)
        report[head] = classification_report(y, probs, list(labels))
    report["seconds"] = round(time.monotonic() - started, 1)
    report["data"] = {
        name: {"file": f"{p.parent.name}/{p.name}", "sha256": sha256(p)}
        for name, p in data_files(data_dir, split).items()
    }
    return report


def print_report(report: dict[str, Any], console: Console) -> None:
    for head in ("topic", "sentiment"):
        r = report[head]
        table = Table(
            title=f"{head}: accuracy {r['accuracy']:.4f} · macro-F1 {r['macro_f1']:.4f} · "
            f"ECE {r['ece']:.4f} · n={r['n']}"
        )
        for col in ("class", "precision", "recall", "F1", "support"):
            table.add_column(col, justify="left" if col == "class" else "right")
        for label, m in r["per_class"].items():
            table.add_row(
                label,
                f"{m['precision']:.3f}",
                f"{m['recall']:.3f}",
                f"{m['f1']:.3f}",
                str(m["support"]),
            )
        console.print(table)
        matrix = Table(title=f"{head} confusion matrix (rows: true, columns: predicted)")
        matrix.add_column("")
        short = [label.split(" ")[0][:6] for label in r["labels"]]
        for name in short:
            matrix.add_column(name, justify="right")
        for name, row in zip(short, r["confusion_matrix"], strict=True):
            matrix.add_row(name, *(str(v) if v else "." for v in row))
        console.print(matrix)


def save_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
