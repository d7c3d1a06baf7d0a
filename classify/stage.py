"""The classify stage's batch logic, free of Kafka: decode, classify (isolating items that make
the model fail), and turn results into rows and events.

The Faust agent (``classify/agent.py``) is a thin loop around :func:`process_batch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from classify.results import Prediction, PredictionError
from tapewatch.events import ClassifiedHeadline, EventDecodeError, Headline, decode_headline

if TYPE_CHECKING:
    from storage.entities import EntityRow

log = logging.getLogger(__name__)

PredictFn = Callable[[Sequence[str]], list[Prediction | PredictionError]]
# The entity step (entities/tagger.py): the watchlist entities the classified headlines name.
TagFn = Callable[[Sequence[Headline], Sequence[ClassifiedHeadline]], list["EntityRow"]]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the stage cannot use, with the reason; it goes to the dead-letter topic."""

    key: bytes | None
    value: bytes | None
    reason: str
    stage: str  # "decode" or "classify"


@dataclass
class BatchOutcome:
    headlines: list[Headline] = field(default_factory=list)
    results: list[ClassifiedHeadline] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    entities: list[EntityRow] = field(default_factory=list)


def predict_isolating(
    predict: PredictFn, texts: Sequence[str]
) -> list[Prediction | PredictionError]:
    """``predict(texts)``; if it raises, bisect so only the items that fail get error records."""
    try:
        return predict(texts)
    except Exception as exc:
        if len(texts) == 1:
            log.warning("model failed on one item: %r", exc)
            return [PredictionError(texts[0], f"model error: {exc!r}"[:500], "unknown")]
        mid = len(texts) // 2
        return predict_isolating(predict, texts[:mid]) + predict_isolating(predict, texts[mid:])


def process_batch(
    messages: Sequence[tuple[bytes | None, bytes | None]],
    predict: PredictFn,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    tag: TagFn | None = None,
) -> BatchOutcome:
    """Decode and classify one micro-batch of (key, value) messages; with ``tag``, also find
    the watchlist entities each classified headline names."""
    outcome = BatchOutcome()
    valid: list[tuple[bytes | None, bytes | None, Headline]] = []
    for key, value in messages:
        try:
            valid.append((key, value, decode_headline(value)))
        except EventDecodeError as exc:
            outcome.dead.append(DeadLetter(key, value, exc.reason, "decode"))
    predictions = predict_isolating(predict, [h.title for _, _, h in valid])
    classified_at = now()
    for (key, value, headline), prediction in zip(valid, predictions, strict=True):
        if isinstance(prediction, PredictionError):
            outcome.dead.append(DeadLetter(key, value, prediction.error, "classify"))
            continue
        outcome.headlines.append(headline)
        outcome.results.append(to_event(headline, prediction, classified_at))
    if tag is not None and outcome.results:
        outcome.entities = tag(outcome.headlines, outcome.results)
    return outcome


def to_event(headline: Headline, p: Prediction, classified_at: datetime) -> ClassifiedHeadline:
    return ClassifiedHeadline(
        headline_id=headline.id,
        source=headline.source,
        title=headline.title,
        url=headline.url,
        published_at=headline.published_at,
        topic=p.topic,
        topic_confidence=p.topic_confidence,
        sentiment=p.sentiment,  # type: ignore[arg-type]
        sentiment_confidence=p.sentiment_confidence,
        probabilities=p.probabilities,
        model_version=p.model_version,
        classified_at=classified_at,
    )
