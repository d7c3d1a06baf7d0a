"""Training data as a declared list of labelled sources.

Each source is one labelled file pair (train, and optionally valid) for one head, with the map
from its own class ids to the head's class names and a loss weight. A new source (analyst
feedback, a user's own labelled file) is a JSON entry, not code:

```json
[{"name": "my-desk", "head": "sentiment", "train": "/data/desk/train.csv",
  "labels": {"0": "negative", "1": "positive", "2": "neutral"}, "weight": 2.0}]
```

Relative paths are read under the data directory. Valid files are for evaluation only.

``own_prior``: the source's class frequencies are learnt apart, as a per-source offset on its
head's logits during training, and that offset is not part of the saved model. The twitter
sentiment set is 65% "Neutral" because a tweet that is neither bullish nor bearish about a
ticker counts as neutral; news headlines are labelled good / bad news, and far fewer are
neutral. Without an offset of its own the tweets' prior becomes the model's, and polar news
headlines come out "neutral".

``own_head``: further, the source's rows are read by a training-only copy of its head (started
from the shared one), so what its labels mean is learnt apart, not only how often each occurs
("Avoid bank stocks: analyst" is commentary to a tweet labeller and bad news to a news one).
The rows still train the encoder; the shared head, which ships, learns from the other sources.

``style: "headline"``: the source's rows are read as headlines, with the tweet's dress (links,
a leading cashtag, "RT", "@" and "#") taken off (classify/training/headline_style.py). The
twitter topic files read that way are the one topic-labelled set that looks like the news the
monitor reads: a validation set of their own, and, declared as a train source beside the tweets
as written, gold topics on headline-style text.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from classify.labels import SENTIMENTS, TOPICS

Head = Literal["topic", "sentiment"]
Style = Literal["as-written", "headline"]
STYLES: tuple[str, ...] = ("as-written", "headline")
HEAD_LABELS: dict[str, tuple[str, ...]] = {"topic": TOPICS, "sentiment": SENTIMENTS}


class SourceError(ValueError):
    """A source declaration that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Source:
    name: str
    head: Head
    train: str | None  # CSV with text,label; relative to the data directory unless absolute
    valid: str | None = None
    labels: dict[int, str] = field(default_factory=dict)  # file's class id -> head's class
    weight: float = 1.0  # multiplies each row's loss
    own_prior: bool = False  # learn this source's class prior apart (see the module doc)
    own_head: bool = False  # learn this source's labels with a head of its own (module doc)
    style: Style = "as-written"  # "headline": rows read without the tweet's dress (module doc)

    def path(self, data_dir: Path, split: str) -> Path | None:
        name = self.train if split == "train" else self.valid
        if name is None:
            return None
        p = Path(name).expanduser()
        return p if p.is_absolute() else data_dir / p

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["labels"] = {str(k): v for k, v in self.labels.items()}
        return out


def _twitter_topic_labels() -> dict[int, str]:
    return dict(enumerate(TOPICS))


# The twitter sets' and SEntFiN's sentiment ids: 0 Bearish/negative, 1 Bullish/positive,
# 2 Neutral.
_SENTIMENT_IDS = {0: "negative", 1: "positive", 2: "neutral"}

DEFAULT_SOURCES: tuple[Source, ...] = (
    Source(
        name="twitter-topic",
        head="topic",
        train="twitter-financial-news-topic/train.csv",
        valid="twitter-financial-news-topic/valid.csv",
        labels=_twitter_topic_labels(),
    ),
    Source(
        name="twitter-sentiment",
        head="sentiment",
        train="twitter-financial-news-sentiment/train.csv",
        valid="twitter-financial-news-sentiment/valid.csv",
        labels=_SENTIMENT_IDS,
        own_prior=True,
    ),
    Source(
        name="sentfin-news",
        head="sentiment",
        train="sentfin-headlines/train.csv",
        valid="sentfin-headlines/valid.csv",
        labels=_SENTIMENT_IDS,
        weight=2.0,  # production input is news: its rows count twice the tweets'
    ),
)

# What models trained before the news data saw (the twitter sets alone).
TWITTER_SOURCES: tuple[Source, ...] = DEFAULT_SOURCES[:2]

# The twitter topic files read as headlines: gold topics on text that looks like news.
HEADLINE_TOPIC_SOURCE = Source(
    name="twitter-topic-headlines",
    head="topic",
    train="twitter-financial-news-topic/train.csv",
    valid="twitter-financial-news-topic/valid.csv",
    labels=_twitter_topic_labels(),
    style="headline",
)

# What `tapewatch eval` and `compare` report: every default source's validation split, and the
# topic split read as headlines (a model that reads topics off the tweet's dress shows there).
EVALUATION_SOURCES: tuple[Source, ...] = (*DEFAULT_SOURCES, HEADLINE_TOPIC_SOURCE)


def validate(sources: tuple[Source, ...]) -> tuple[Source, ...]:
    names = [s.name for s in sources]
    if not sources:
        raise SourceError("no training sources declared")
    if len(set(names)) != len(names):
        raise SourceError(f"source names must be unique: {names}")
    for s in sources:
        if s.head not in HEAD_LABELS:
            raise SourceError(f"source {s.name!r}: head must be 'topic' or 'sentiment'")
        unknown = set(s.labels.values()) - set(HEAD_LABELS[s.head])
        if unknown:
            raise SourceError(
                f"source {s.name!r}: {sorted(unknown)} are not {s.head} classes "
                f"({', '.join(HEAD_LABELS[s.head])})"
            )
        if not s.labels:
            raise SourceError(f"source {s.name!r}: 'labels' maps no class id")
        if s.style not in STYLES:
            raise SourceError(f"source {s.name!r}: style must be one of {', '.join(STYLES)}")
        if s.weight <= 0:
            raise SourceError(f"source {s.name!r}: weight must be positive")
    return sources


def parse_sources(raw: list[dict[str, Any]]) -> tuple[Source, ...]:
    """Sources from their JSON form (label ids as strings or numbers)."""
    out = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise SourceError(f"source #{i + 1}: expected an object, got {type(entry).__name__}")
        try:
            labels = {int(k): str(v) for k, v in dict(entry.get("labels", {})).items()}
            out.append(Source(**{**entry, "labels": labels}))
        except (TypeError, ValueError) as exc:
            raise SourceError(f"source #{i + 1} ({entry.get('name', '?')}): {exc}") from exc
    return validate(tuple(out))


def read_sources(path: Path) -> tuple[Source, ...]:
    """A JSON file holding a list of source declarations."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SourceError(f"cannot read the source list {path}: {exc}") from exc
    if not isinstance(raw, list):
        raise SourceError(f"{path}: expected a JSON list of sources")
    return parse_sources(raw)
