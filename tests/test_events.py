"""Event contracts: valid events round-trip; malformed payloads fail with a clear reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tapewatch.events import (
    ClassifiedHeadline,
    EventDecodeError,
    Headline,
    decode_classified,
    decode_headline,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def headline_doc(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "schema_version": 1,
        "id": "0123456789abcdef0123456789abcdef",
        "source": "reuters-business",
        "title": "Acme cuts full-year guidance",
        "url": "https://example.com/acme",
        "published_at": "2026-11-29T12:00:00Z",
        "ingested_at": "2026-11-29T12:00:05+00:00",
        "tickers": ["ACME"],
    }
    doc.update(overrides)
    return doc


def test_headline_round_trips_through_json() -> None:
    original = decode_headline(json.dumps(headline_doc()).encode())
    again = decode_headline(original.to_json())
    assert again == original
    assert again.published_at == NOW
    assert json.loads(original.to_json())["schema_version"] == 1


def test_timestamps_are_normalised_to_utc() -> None:
    h = decode_headline(json.dumps(headline_doc(published_at="2026-11-29T07:00:00-05:00")))
    assert h.published_at == NOW
    assert h.published_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"{truncated", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (None, "empty message"),
        (json.dumps(headline_doc(title="")).encode(), "title"),
        (json.dumps(headline_doc(id="NOT-HEX")).encode(), "id"),
        (json.dumps(headline_doc(published_at="yesterday")).encode(), "published_at"),
        (json.dumps(headline_doc(published_at="2026-11-29T12:00:00")).encode(), "time zone"),
        (json.dumps(headline_doc(schema_version=2)).encode(), "schema_version"),
        (json.dumps(headline_doc(surprise="field")).encode(), "surprise"),
        (json.dumps({k: v for k, v in headline_doc().items() if k != "source"}).encode(), "source"),
    ],
)
def test_malformed_headlines_are_rejected_with_a_reason(
    payload: bytes | None, fragment: str
) -> None:
    with pytest.raises(EventDecodeError) as info:
        decode_headline(payload)
    assert fragment in info.value.reason


def test_overlong_title_is_rejected() -> None:
    with pytest.raises(EventDecodeError, match="title"):
        decode_headline(json.dumps(headline_doc(title="x" * 10_001)))


def test_classified_headline_round_trip_and_validation() -> None:
    event = ClassifiedHeadline(
        headline_id="0123456789abcdef",
        source="s",
        title="t",
        published_at=NOW.astimezone(timezone(timedelta(hours=2))),
        topic="Earnings",
        topic_confidence=0.9,
        sentiment="negative",
        sentiment_confidence=0.7,
        probabilities={"sentiment": {"negative": 0.7, "neutral": 0.2, "positive": 0.1}},
        model_version="abc123",
        classified_at=NOW,
    )
    assert decode_classified(event.to_json()) == event
    bad = json.loads(event.to_json())
    bad["sentiment"] = "bearish"
    with pytest.raises(EventDecodeError, match="sentiment"):
        decode_classified(json.dumps(bad))


def test_headline_model_rejects_naive_datetimes_directly() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Headline(
            id="0123456789abcdef",
            source="s",
            title="t",
            published_at=datetime(2026, 1, 1),
            ingested_at=NOW,
        )
