"""The classify stage's batch logic without Kafka: decoding, dead letters, and isolating the
item that makes the model fail (bisection) while the rest of the batch goes through."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from classify.predictor import Prediction, PredictionError
from classify.stage import predict_isolating, process_batch

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def fake_predict(texts: Sequence[str]) -> list[Prediction | PredictionError]:
    """A stand-in model for pure-logic tests: raises on any batch containing 'POISON'."""
    if any("POISON" in t for t in texts):
        raise RuntimeError("model blew up")
    return [
        Prediction(
            text=t,
            topic="Earnings",
            topic_confidence=0.9,
            sentiment="negative",
            sentiment_confidence=0.8,
            probabilities={"topic": {"Earnings": 0.9}, "sentiment": {"negative": 0.8}},
            model_version="v1",
        )
        if t.strip()
        else PredictionError(t, "empty text", "v1")
        for t in texts
    ]


def headline(i: int, title: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": f"{i:016x}",
            "source": "s",
            "title": title or f"headline {i}",
            "published_at": "2026-11-29T12:00:00Z",
            "ingested_at": "2026-11-29T12:00:01Z",
        }
    ).encode()


def test_bisection_isolates_only_the_failing_item() -> None:
    calls: list[int] = []

    def counting(texts: Sequence[str]) -> list[Prediction | PredictionError]:
        calls.append(len(texts))
        return fake_predict(texts)

    texts = [f"t{i}" for i in range(16)]
    texts[11] = "POISON pill"
    results = predict_isolating(counting, texts)
    assert [isinstance(r, Prediction) for r in results] == [i != 11 for i in range(16)]
    assert isinstance(results[11], PredictionError) and "model error" in results[11].error
    assert len(calls) <= 1 + 2 * 4  # log2(16) levels, two calls each at most


def test_batch_with_bad_messages_keeps_every_good_one() -> None:
    messages = [
        (b"k0", headline(0)),
        (b"k1", b"not json"),
        (b"k2", headline(2, "POISON story")),
        (b"k3", json.dumps({"id": "zz"}).encode()),
        (None, None),
        (b"k5", headline(5)),
        (b"k6", headline(6, "   ")),  # passes the schema, but is empty for the model
    ]
    outcome = process_batch(messages, fake_predict, now=lambda: NOW)
    assert [h.id for h in outcome.headlines] == [f"{0:016x}", f"{5:016x}"]
    assert [r.headline_id for r in outcome.results] == [f"{0:016x}", f"{5:016x}"]
    assert all(r.classified_at == NOW and r.model_version == "v1" for r in outcome.results)
    dead = {d.key: d for d in outcome.dead}
    assert set(dead) == {b"k1", b"k2", b"k3", None, b"k6"}
    assert dead[b"k1"].stage == "decode" and "not JSON" in dead[b"k1"].reason
    assert dead[b"k2"].stage == "classify" and "model error" in dead[b"k2"].reason
    assert dead[None].reason == "empty message (no value)"
    assert dead[b"k6"].reason == "empty text"
    assert dead[b"k1"].value == b"not json"  # the original bytes travel to the dead-letter topic
