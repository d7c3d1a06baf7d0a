"""Loading the labelled CSVs (topic and sentiment) into one multi-task example list."""

from __future__ import annotations

import csv
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from classify.labels import IGNORE, SENTIMENT_FROM_DATASET, TOPICS

TOPIC_DIR = "twitter-financial-news-topic"
SENTIMENT_DIR = "twitter-financial-news-sentiment"


class DataError(RuntimeError):
    """The data directory is missing or a file in it is malformed."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    topic: int = IGNORE  # index into TOPICS, or IGNORE
    sentiment: int = IGNORE  # index into SENTIMENTS, or IGNORE


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        raise DataError(
            f"{path} not found; point TAPEWATCH_DATA_DIR (or --data-dir) at the directory "
            f"holding {TOPIC_DIR}/ and {SENTIMENT_DIR}/"
        )
    rows = []
    with path.open(newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                rows.append((row["text"], int(row["label"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}:{i}: expected columns text,label ({exc})") from exc
    return rows


def data_files(data_dir: Path, split: str) -> dict[str, Path]:
    """The topic and sentiment CSVs of ``split`` ('train' or 'valid')."""
    return {
        "topic": data_dir / TOPIC_DIR / f"{split}.csv",
        "sentiment": data_dir / SENTIMENT_DIR / f"{split}.csv",
    }


def load_topic(path: Path) -> list[Example]:
    examples = []
    for text, label in _read(path):
        if not 0 <= label < len(TOPICS):
            raise DataError(f"{path}: topic label {label} out of range")
        examples.append(Example(text=text, topic=label))
    return examples


def load_sentiment(path: Path) -> list[Example]:
    examples = []
    for text, label in _read(path):
        if label not in SENTIMENT_FROM_DATASET:
            raise DataError(f"{path}: sentiment label {label} out of range")
        examples.append(Example(text=text, sentiment=SENTIMENT_FROM_DATASET[label]))
    return examples


def load_split(data_dir: Path, split: str) -> tuple[list[Example], list[Example]]:
    files = data_files(data_dir, split)
    return load_topic(files["topic"]), load_sentiment(files["sentiment"])


def holdout(
    examples: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Split off a stratified ``fraction`` (per head and class) for early stopping."""
    rng = random.Random(seed)
    by_class: dict[tuple[int, int], list[Example]] = {}
    for ex in examples:
        by_class.setdefault((ex.topic, ex.sentiment), []).append(ex)
    train, held = [], []
    for key in sorted(by_class):
        group = by_class[key]
        rng.shuffle(group)
        n = round(len(group) * fraction)
        held += group[:n]
        train += group[n:]
    return train, held
