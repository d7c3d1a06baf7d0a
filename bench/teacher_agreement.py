"""Where does a distilled student stop following its teacher: on rows it was taught, or new ones?

Scores a student and a teacher on three sets of one source's headlines: a sample of the
student's train rows (where distillation gave it the teacher's targets), the student's holdout,
and the validation split. For each: both accuracies, how often their labels agree, and the mean
KL(teacher || student) of the sentiment distributions. A student that matches the teacher on
train rows but not on validation lacks the teacher's reading of new text, which more targets on
the same rows cannot give it (docs/classifier.md, "More teacher signal on news").

    python bench/teacher_agreement.py --student models/tapewatch-minilm \\
        --teacher runs/teacher-news-s21
"""

from __future__ import annotations

import argparse
import json
import random
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


if __name__ == "__main__":
    main()
