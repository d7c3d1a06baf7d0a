"""Event contracts on Kafka: what ingest publishes and what the classifier emits.

Both are versioned JSON documents. ``decode_*`` turns raw bytes into a model or raises
:class:`EventDecodeError` with a reason fit for a dead-letter record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1
MAX_TITLE_CHARS = 10_000


class EventDecodeError(ValueError):
    """A Kafka message is not a valid event; ``reason`` says why, for the dead-letter record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _require_utc(value: datetime) -> datetime:
    # Naive datetimes are ambiguous across feeds; refuse them rather than guess a zone.
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (e.g. 2024-05-01T12:00:00Z)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]
HeadlineId = Annotated[str, Field(pattern=r"^[0-9a-f]{16,64}$")]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


class Headline(_Event):
    """A normalised headline, published by ingest to ``headlines.raw`` keyed by ``id``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: HeadlineId
    source: Annotated[str, Field(min_length=1, max_length=200)]
    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS)]
    url: Annotated[str, Field(max_length=2048)] | None = None
    published_at: UtcDatetime
    ingested_at: UtcDatetime
    tickers: list[Annotated[str, Field(max_length=16)]] = Field(default_factory=list)
    # Near-duplicate copies of one story across outlets share a cluster id.
    cluster_id: HeadlineId | None = None


class ClassifiedHeadline(_Event):
    """A classification result, published to ``headlines.classified`` keyed by headline id."""

    schema_version: Literal[1] = SCHEMA_VERSION
    headline_id: HeadlineId
    source: str
    title: str
    url: str | None = None
    published_at: UtcDatetime
    topic: str
    topic_confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    sentiment: Literal["negative", "neutral", "positive"]
    sentiment_confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    probabilities: dict[str, dict[str, float]]
    model_version: str
    classified_at: UtcDatetime


E = TypeVar("E", bound=_Event)


def _decode(model: type[E], raw: bytes | str | None) -> E:
    if raw is None:
        raise EventDecodeError("empty message (no value)")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventDecodeError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise EventDecodeError(f"expected a JSON object, got {type(doc).__name__}")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise EventDecodeError(f"invalid {model.__name__}: {problems}") from exc


def decode_headline(raw: bytes | str | None) -> Headline:
    return _decode(Headline, raw)


def decode_classified(raw: bytes | str | None) -> ClassifiedHeadline:
    return _decode(ClassifiedHeadline, raw)
