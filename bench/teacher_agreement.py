"""Where does a distilled student stop following its teacher: on rows it was taught, or new ones?

Scores a student and a teacher on three sets of one source's headlines: a sample of the
student's train rows (where distillation gave it the teacher's targets), the student's holdout,
and the validation split. For each: both accuracies, how often their labels agree, and the mean
KL(teacher || student) of the sentiment distributions. A student that matches the teacher on
train rows but not on validation lacks the teacher's reading of new text, which more targets on
the same rows cannot give it (docs/classifier.md, "More teacher signal on news").

A second table splits validation by how new each headline is: the word overlap (Jaccard of
lower-cased word sets) with its closest headline in the source's train file. Where the teacher
leads only on near-repeats, a memory of the train rows would close the gap; where it leads on
headlines unlike any in train, only a better reader will.

    python bench/teacher_agreement.py --student models/tapewatch-minilm \\
        --teacher runs/teacher-news-s21
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classify.labels import SENTIMENTS
from classify.predictor import Predictor
from classify.training.data import Example, load_sources
from classify.training.posthoc import recorded_split
from classify.training.sources import EVALUATION_SOURCES
from tapewatch.settings import Settings


def sentiment_probs(engine: Predictor, rows: list[Example]) -> NDArray:
    """Sentiment probabilities in ``SENTIMENTS`` order, whatever order the model keeps."""
    _, probs = engine.probabilities([e.text for e in rows])
    return np.asarray(probs)[:, [engine.sentiments.index(c) for c in SENTIMENTS]]


OVERLAP_BUCKETS = ((0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 1.0))


def words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def nearest_overlap(texts: list[str], train_texts: list[str]) -> NDArray:
    """Each text's highest Jaccard word overlap with any train text (1.0: same words)."""
    train_words = [words(t) for t in train_texts]
    out = np.zeros(len(texts))
    for i, text in enumerate(texts):
        w = words(text)
        out[i] = max((len(w & t) / len(w | t) for t in train_words if w | t), default=0.0)
    return out


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", type=Path, default=settings.model_dir)
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--source", default="sentfin-news", help="a sentiment source's name")
    parser.add_argument("--train-sample", type=int, default=600)
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    args = parser.parse_args()

    record = json.loads((args.student / "training.json").read_text())
    train, held = recorded_split(args.student, record, args.data_dir)
    train = [e for e in train if e.source == args.source]
    random.Random(0).shuffle(train)
    valid = load_sources(args.data_dir, "valid", EVALUATION_SOURCES).get(args.source, [])
    if not valid:
        raise SystemExit(f"{args.source} has no validation rows under {args.data_dir}")
    student = Predictor.from_dir(args.student, device="cpu")
    teacher = Predictor.from_dir(args.teacher, device="cpu")
    sets = {
        "student train rows": train[: args.train_sample],
        "student holdout": [e for e in held if e.source == args.source],
        "validation": valid,
    }
    print(f"{'rows':20s} {'n':>5s} {'student':>8s} {'teacher':>8s} {'agree':>7s} {'KL(t||s)':>9s}")
    for name, rows in sets.items():
        gold = np.array([e.sentiment for e in rows])
        s, t = sentiment_probs(student, rows), sentiment_probs(teacher, rows)
        kl = np.mean(np.sum(t * (np.log(t + 1e-9) - np.log(s + 1e-9)), axis=1))
        print(
            f"{name:20s} {len(rows):5d} {np.mean(s.argmax(1) == gold):8.4f} "
            f"{np.mean(t.argmax(1) == gold):8.4f} {np.mean(s.argmax(1) == t.argmax(1)):7.4f} "
            f"{kl:9.4f}"
        )

    file_rows = load_sources(args.data_dir, "train", EVALUATION_SOURCES).get(args.source, [])
    overlap = nearest_overlap([e.text for e in valid], [e.text for e in file_rows])
    gold = np.array([e.sentiment for e in valid])
    s_ok = sentiment_probs(student, valid).argmax(1) == gold
    t_ok = sentiment_probs(teacher, valid).argmax(1) == gold
    print(f"\nvalidation by word overlap with the closest {args.source} train headline")
    print(f"{'overlap':20s} {'n':>5s} {'student':>8s} {'teacher':>8s}")
    for low, high in OVERLAP_BUCKETS:
        # The top bucket is closed, so a headline repeated word for word is counted.
        top = high == OVERLAP_BUCKETS[-1][1]
        sel = (overlap >= low) & ((overlap < high) | top)
        if sel.any():
            label = f"[{low:.1f}, {high:.1f}{']' if top else ')'}"
            print(f"{label:20s} {sel.sum():5d} {s_ok[sel].mean():8.4f} {t_ok[sel].mean():8.4f}")


if __name__ == "__main__":
    main()
