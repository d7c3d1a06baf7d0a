"""The demo scenario: which labelled headlines are replayed, when, and which topic turns negative.

Pure planning, no I/O beyond reading the labelled CSVs of the data directory (never copied into
the repository). The stream is a baseline mix of the topic and sentiment data sets; after
``burst_after_s`` seconds, for ``burst_seconds``, a share of it is replaced by headlines that
are both about energy/oil and negative, so that the Energy | Oil topic's negative share jumps
against its history and an alert fires within the first minutes. The two data sets share no
texts, so the burst pool combines what the labels say with keywords: Bearish headlines that
mention oil, crude, gas or energy, and Energy | Oil headlines that report a fall or a cut. The
model decides topic and sentiment on its own; docs/demo.md records how it classified the pool.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TOPIC_DIR = "twitter-financial-news-topic"
SENTIMENT_DIR = "twitter-financial-news-sentiment"
SPLITS = ("train.csv", "valid.csv")
ENERGY_TOPIC_ID = 6  # "Energy | Oil" in classify.labels.TOPICS
BEARISH_ID = 0  # twitter-financial-news-sentiment: 0 Bearish, 1 Bullish, 2 Neutral
BURST_TOPIC = "Energy | Oil"

_ENERGY = re.compile(
    r"\b(oil|crude|opec|brent|wti|gasoline|petrol|natural gas|lng|energy|refiner\w*)\b", re.I
)
_FALLING = re.compile(
    r"\b(falls?|fell|drops?|dropped|slump\w*|plunge\w*|tumble\w*|slides?|sinks?|sank|lower|"
    r"down|loss(es)?|cuts?|cutting|weak\w*|worst|crash\w*|slips?|dips?|declines?|halts?|"
    r"shut\w*|fears?|warns?|slashe?s?)\b",
    re.I,
)
_URL = re.compile(r"https?://\S+")
# Tweets carry trailing t.co links and "…" cut-offs; a headline stream reads better without.
_TRAILING = re.compile(r"[\s…]+$")


def tidy(text: str) -> str:
    """The tweet as a headline: links dropped, whitespace collapsed."""
    text = _URL.sub("", text)
    return _TRAILING.sub("", " ".join(text.split()))


@dataclass(frozen=True)
class Pools:
    """Headline texts to draw from: the everyday mix and the negative energy burst."""

    baseline: list[str]
    burst: list[str]


def _read(path: Path) -> list[tuple[str, int]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["text"], int(row["label"])) for row in csv.DictReader(handle)]


def has_labelled_data(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds the labelled data sets the replay reads."""
    return all(
        (data_dir / d / split).is_file() for d in (TOPIC_DIR, SENTIMENT_DIR) for split in SPLITS
    )


def load_pools(data_dir: Path) -> Pools:
    """Read the labelled CSVs and split them into the baseline and burst pools.

    The burst's candidates are kept out of the baseline, so the energy topic's history stays at
    its ordinary negative share.
    """
    topic_rows: list[tuple[str, int]] = []
    sentiment_rows: list[tuple[str, int]] = []
    for split in SPLITS:
        topic_rows += _read(data_dir / TOPIC_DIR / split)
        sentiment_rows += _read(data_dir / SENTIMENT_DIR / split)
    burst: dict[str, None] = {}
    for text, label in sentiment_rows:
        if label == BEARISH_ID and _ENERGY.search(text):
            burst[tidy(text)] = None
    for text, label in topic_rows:
        if label == ENERGY_TOPIC_ID and _FALLING.search(text):
            burst[tidy(text)] = None
    baseline: dict[str, None] = {}
    for text, _label in topic_rows + sentiment_rows:
        title = tidy(text)
        if title and title not in burst:
            baseline[title] = None
    burst.pop("", None)
    return Pools(baseline=list(baseline), burst=list(burst))


@dataclass(frozen=True)
class Scenario:
    """Timing of the demo stream; the defaults make an alert fire within about three minutes."""

    rate_per_s: float = 20.0
    burst_after_s: float = 60.0
    burst_seconds: float = 240.0
    burst_share: float = 0.25
    backfill_minutes: float = 60.0
    backfill_per_minute: float = 40.0
    seed: int = 7

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if not 0.0 <= self.burst_share <= 1.0:
            raise ValueError("burst_share must be between 0 and 1")

    @property
    def backfill_count(self) -> int:
        return max(0, int(self.backfill_minutes * self.backfill_per_minute))

    def in_burst(self, offset_s: float) -> bool:
        return self.burst_after_s <= offset_s < self.burst_after_s + self.burst_seconds


@dataclass(frozen=True)
class Planned:
    """One headline of the stream: when (seconds after the start, negative for the backfill)."""

    offset_s: float
    title: str
    burst: bool = False


@dataclass
class Stream:
    """The live stream as an endless, deterministic sequence of :class:`Planned` headlines."""

    pools: Pools
    scenario: Scenario
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.pools.baseline:
            raise ValueError("no baseline headlines in the data directory")
        self._rng = random.Random(self.scenario.seed)

    def backfill(self) -> list[Planned]:
        """History before the start, from the baseline pool only, evenly spread."""
        count = self.scenario.backfill_count
        if count == 0:
            return []
        span = self.scenario.backfill_minutes * 60.0
        step = span / count
        return [
            Planned(-span + i * step, self._rng.choice(self.pools.baseline)) for i in range(count)
        ]

    def live(self) -> Iterator[Planned]:
        """Headlines at ``rate_per_s``; a ``burst_share`` of them from the burst pool in the
        burst."""
        step = 1.0 / self.scenario.rate_per_s
        n = 0
        while True:
            offset = n * step
            burst = (
                bool(self.pools.burst)
                and self.scenario.in_burst(offset)
                and self._rng.random() < self.scenario.burst_share
            )
            pool = self.pools.burst if burst else self.pools.baseline
            yield Planned(offset, self._rng.choice(pool), burst)
            n += 1
