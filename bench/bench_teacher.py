"""The shipped engine against what a user would otherwise deploy: a base-size model (the
distillation teacher) through a naive transformers ``pipeline()``, side by side in one run.

For every validation set (twitter topic, twitter sentiment, SEntFiN news headlines) and each
way of running a model: headlines/s (tokenisation included) and accuracy, macro-F1 and
negative recall, all from the probabilities that way produced. Rows:

- the shipped MiniLM through the engine (``Predictor``: sorted buckets, workers, fp32 and int8);
- the teacher through ``pipeline("feature-extraction")`` once per headline plus its heads
  (``bench/naive_pipeline.py``), the obvious deployment of a base-size model;
- the teacher through the engine, to separate what the engine buys from what the size costs.

A head the teacher was not trained on (a news-only teacher has no topic head worth the name) is
shown as such, not scored.

    python bench/bench_teacher.py --teacher runs/teacher-news
    python bench/bench_teacher.py --teacher runs/teacher-news --limit 300   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from naive_pipeline import NaivePipeline
from numpy.typing import NDArray

from classify.hardware import cpu_description
from classify.predictor import Predictor, configure_cpu_threads
from classify.training.evaluate import validation_sets
from classify.training.metrics import classification_report
from tapewatch.settings import Settings

Probabilities = Callable[[list[str]], tuple[NDArray[np.float32], NDArray[np.float32]]]


def trained_heads(model_dir: Path) -> set[str]:
    """The heads the model's training data labelled, from its training.json."""
    record = json.loads((model_dir / "training.json").read_text())
    params = record.get("hyperparameters", {})
    sources = params.get("sources", "default")
    if sources == "default" or params.get("init_from"):
        return {"topic", "sentiment"}  # a fine-tuned model keeps what its start had learnt
    return {s["head"] for s in sources}


def measure(run: Probabilities, texts: list[str], head: str) -> tuple[float, NDArray[np.float32]]:
    run(texts[:8])  # warm-up: the first calls set things up
    started = time.perf_counter()
    topic, sentiment = run(texts)
    rate = len(texts) / (time.perf_counter() - started)
    return rate, topic if head == "topic" else sentiment


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=settings.model_dir)
    parser.add_argument("--teacher", type=Path, required=True, help="a base-size model directory")
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--limit", type=int, default=None, help="rows per validation set")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-teacher-engine", action="store_true")
    args = parser.parse_args()

    threads = configure_cpu_threads(args.threads)
    sets = validation_sets(args.data_dir)
    print(
        f"# {cpu_description()}, {os.cpu_count()} CPUs, {threads} torch threads, "
        f"torch {torch.__version__}; rows per set: "
        + ", ".join(f"{n} {len(rows[: args.limit])}" for n, (_, rows) in sets.items())
    )
    shipped = Predictor.from_dir(args.model_dir, device="cpu", threads=args.threads)
    shipped_int8 = Predictor.from_dir(
        args.model_dir, device="cpu", threads=args.threads, quantize_int8=True
    )
    # Loading sets torch's thread count: every engine gets --threads, the baseline too.
    naive = NaivePipeline(args.teacher, threads=args.threads)
    teacher_heads = trained_heads(args.teacher)
    ways: list[tuple[str, str, Probabilities, set[str]]] = [
        (
            "shipped MiniLM, engine fp32",
            shipped.version,
            shipped.probabilities,
            {"topic", "sentiment"},
        ),
        (
            "shipped MiniLM, engine int8",
            shipped_int8.version,
            shipped_int8.probabilities,
            {"topic", "sentiment"},
        ),
        (
            "teacher, naive pipeline() per headline",
            naive.version,
            naive.probabilities,
            teacher_heads,
        ),
    ]
    if not args.no_teacher_engine:
        teacher = Predictor.from_dir(args.teacher, device="cpu", threads=args.threads)
        ways.append(
            (
                "teacher, engine fp32",
                teacher.version,
                teacher.probabilities,
                teacher_heads,
            )
        )

    lines = [
        "| model, how | validation set | headlines/s | accuracy | macro-F1 | negative recall |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, (source, rows) in sets.items():
        rows = rows[: args.limit]
        texts = [ex.text for ex in rows]
        y = np.array([getattr(ex, source.head) for ex in rows], dtype=np.int64)
        for way, version, run, heads in ways:
            if source.head not in heads:
                lines.append(f"| {way} | {name} | | not trained on this head | | |")
                continue
            rate, probs = measure(run, texts, source.head)
            labels = shipped.topics if source.head == "topic" else shipped.sentiments
            report = classification_report(y, probs.astype(np.float64), list(labels))
            recall = report["per_class"].get("negative", {}).get("recall")
            lines.append(
                f"| {way} (`{version}`) | {name} | {rate:,.0f} | {report['accuracy']:.4f} | "
                f"{report['macro_f1']:.4f} | {'' if recall is None else f'{recall:.3f}'} |"
            )
            print(lines[-1], flush=True)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
