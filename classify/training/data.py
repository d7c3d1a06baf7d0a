"""Loading the labelled CSVs of the declared sources (classify/training/sources.py) into one
multi-task example list."""

from __future__ import annotations

import csv
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from classify.labels import IGNORE, SENTIMENTS, TOPICS
from classify.training.headline_style import headline_style
from classify.training.sources import DEFAULT_SOURCES, Source


class DataError(RuntimeError):
    """The data directory is missing or a file in it is malformed."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    topic: int = IGNORE  # index into TOPICS, or IGNORE
    sentiment: int = IGNORE  # index into SENTIMENTS, or IGNORE
    source: str = ""  # the name of the source the row came from ("" for unlabelled copies)
    weight: float = 1.0  # the source's loss weight
    origin: str = ""  # the text as written in the file, where the row reads it restyled


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        raise DataError(
            f"{path} not found; point TAPEWATCH_DATA_DIR (or --data-dir) at the directory "
            "holding the labelled data (../shared/data), or declare your own --sources"
        )
    rows = []
    with path.open(newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                rows.append((row["text"], int(row["label"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}:{i}: expected columns text,label ({exc})") from exc
    return rows


def data_files(
    data_dir: Path, split: str, sources: tuple[Source, ...] = DEFAULT_SOURCES
) -> dict[str, Path]:
    """Each source's CSV of ``split`` ('train' or 'valid'), by source name (sources without
    that split are left out)."""
    files = {s.name: s.path(data_dir, split) for s in sources}
    return {name: p for name, p in files.items() if p is not None}


def load_source(data_dir: Path, source: Source, split: str) -> list[Example]:
    path = source.path(data_dir, split)
    if path is None:
        return []
    classes = TOPICS if source.head == "topic" else SENTIMENTS
    examples = []
    for text, label in _read(path):
        if label not in source.labels:
            raise DataError(
                f"{path}: {source.head} label {label} is not in source {source.name!r}'s "
                f"label map ({sorted(source.labels)})"
            )
        index = classes.index(source.labels[label])
        restyled = source.style == "headline"
        examples.append(
            Example(
                text=headline_style(text) if restyled else text,
                source=source.name,
                weight=source.weight,
                origin=text if restyled else "",
                **{source.head: index},
            )
        )
    return examples


def load_sources(
    data_dir: Path, split: str, sources: tuple[Source, ...] = DEFAULT_SOURCES
) -> dict[str, list[Example]]:
    """Every source's rows of ``split``, by source name, in declaration order."""
    loaded = {s.name: load_source(data_dir, s, split) for s in sources}
    return {name: rows for name, rows in loaded.items() if rows}


def load_split(
    data_dir: Path, split: str, sources: tuple[Source, ...] = DEFAULT_SOURCES
) -> tuple[list[Example], list[Example]]:
    """All topic-labelled rows and all sentiment-labelled rows of ``split``."""
    rows = [ex for part in load_sources(data_dir, split, sources).values() for ex in part]
    return (
        [ex for ex in rows if ex.topic != IGNORE],
        [ex for ex in rows if ex.sentiment != IGNORE],
    )


def holdout(
    examples: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Split off a stratified ``fraction`` (per source, head and class) for early stopping.

    The first source of each head (in the order the examples come) is split first, exactly as
    when it was the only one: the split of the twitter sets stays what it was before the news
    source joined, so a model fine-tuned from an older one is never early-stopped on rows that
    the older one trained on.

    A restyled row (one with an ``origin``) goes where its original went when the original was
    split first: the holdout never holds a headline whose tweet was trained on, or the reverse.
    """
    rng = random.Random(seed)
    first: dict[bool, str] = {}  # is-a-topic-row -> first source seen for that head
    restyled: set[str] = set()  # sources whose rows are restyled: split after all others
    by_class: dict[tuple[int, int, str], list[Example]] = {}
    for ex in examples:
        if ex.origin:
            restyled.add(ex.source)
        else:
            first.setdefault(ex.topic != IGNORE, ex.source)
        by_class.setdefault((ex.topic, ex.sentiment, ex.source), []).append(ex)

    def order(key: tuple[int, int, str]) -> tuple[int, int, int, int, str]:
        later = key[2] != first.get(key[0] != IGNORE)
        return (int(key[2] in restyled), int(later), key[0], key[1], key[2])

    train, held = [], []
    went: dict[str, bool] = {}  # text as written -> held out
    for key in sorted(by_class, key=order):
        group = by_class[key]
        rng.shuffle(group)
        n = round(len(group) * fraction)
        for i, ex in enumerate(group):
            is_held = went.get(ex.origin, i < n) if ex.origin else i < n
            went.setdefault(ex.origin or ex.text, is_held)
            (held if is_held else train).append(ex)
    return train, held
