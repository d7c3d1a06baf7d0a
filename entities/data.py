"""The entity-labelled headlines of SEntFiN (``sentfin-headlines/SEntFiN-entities.csv`` under
the data directory) and the split by headline.

Each row is a title and a ``Decisions`` cell, a Python-dict literal {entity: sentiment}. A few
entity names hold an apostrophe inside single quotes (``{'Macy's': 'negative'}``), which is not
a valid literal; those cells are read with a regex that relies on every value being one of the
three sentiments.

The split is by headline, never by entity row, so one headline never sits on both sides. The
validation headlines are the titles of ``sentfin-headlines/valid.csv`` (the headline model's
news validation set, so neither model trained on them) plus a fixed share of the
mixed-sentiment titles, which that file leaves out by construction.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

ENTITY_FILE = Path("sentfin-headlines") / "SEntFiN-entities.csv"
HEADLINE_VALID = Path("sentfin-headlines") / "valid.csv"
SENTIMENT_NAMES = ("negative", "neutral", "positive")
_DECISION = re.compile(r"""['"](.+?)['"]\s*:\s*['"](positive|negative|neutral)['"]""")


class EntityDataError(ValueError):
    """The entity file is missing or a row cannot be read; the message says which."""


@dataclass(frozen=True, slots=True)
class EntityExample:
    title: str
    entity: str
    sentiment: str  # negative / neutral / positive
    entities_in_title: int
    mixed: bool  # the title's entities do not all share one sentiment

    @property
    def single(self) -> bool:
        return self.entities_in_title == 1


def parse_decisions(cell: str) -> dict[str, str]:
    """{entity: sentiment} from a Decisions cell."""
    try:
        value = ast.literal_eval(cell)
    except (SyntaxError, ValueError):
        value = dict(_DECISION.findall(cell))
    if not isinstance(value, dict) or not value:
        raise EntityDataError(f"cannot read decisions {cell[:80]!r}")
    out = {str(k).strip(): str(v).strip().lower() for k, v in value.items()}
    bad = [v for v in out.values() if v not in SENTIMENT_NAMES]
    if bad:
        raise EntityDataError(f"unknown sentiment {bad[0]!r} in {cell[:80]!r}")
    return out


def load_titles(data_dir: Path) -> dict[str, dict[str, str]]:
    """title -> {entity: sentiment}; a title listed twice keeps the union of its decisions."""
    path = data_dir / ENTITY_FILE
    if not path.exists():
        raise EntityDataError(f"{path} not found (set the data directory)")
    titles: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            title = (row.get("Title") or "").strip()
            if title:
                titles.setdefault(title, {}).update(parse_decisions(row["Decisions"]))
    return titles


def examples(titles: dict[str, dict[str, str]]) -> list[EntityExample]:
    out = []
    for title, decisions in titles.items():
        mixed = len(set(decisions.values())) > 1
        for entity, sentiment in decisions.items():
            out.append(EntityExample(title, entity, sentiment, len(decisions), mixed))
    return out


def _hashed_share(title: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}\x00{title}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_headline(
    data_dir: Path, *, mixed_valid_share: float = 0.3, seed: int = 13
) -> tuple[list[EntityExample], list[EntityExample]]:
    """(train, valid) entity examples; every title wholly on one side."""
    titles = load_titles(data_dir)
    valid_titles: set[str] = set()
    valid_path = data_dir / HEADLINE_VALID
    if valid_path.exists():
        with valid_path.open(encoding="utf-8", newline="") as f:
            valid_titles = {row["text"].strip() for row in csv.DictReader(f)}
    train, valid = [], []
    for ex in examples(titles):
        if ex.mixed:
            held = _hashed_share(ex.title, seed) < mixed_valid_share
        else:
            held = ex.title in valid_titles
        (valid if held else train).append(ex)
    return train, valid
