"""The pipeline alert: when classify is stalled or every feed fails, the alerts worker tells the
receivers that the monitor is blind, once, through the outbox and the signed webhook, and says
so again when it sees. Real PostgreSQL, a real receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert

from alerts.config import AlertsConfig
from alerts.outbox import deliver_due
from alerts.pipeline import blind_reasons, check_pipeline
from alerts.state import Event
from alerts.webhook import WebhookSender
from storage import models
from storage.db import make_engine, session_scope
from tests.test_alerts_support import SECRET, Receiver

NOW = datetime.now(UTC)
BLIND_S = 60.0


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _config(receiver: Receiver) -> AlertsConfig:
    # A topic filter that excludes "pipeline": a blind monitor concerns every receiver anyway.
    return AlertsConfig.model_validate(
        {
            "webhook_secret": SECRET,
            "receivers": [
                {"name": "ops", "url": receiver.url("/ops"), "format": "native"},
                {
                    "name": "energy-desk",
                    "url": receiver.url("/energy"),
                    "format": "slack",
                    "topics": ["Energy | Oil"],
                },
            ],
        }
    )


def _headlines(engine: Engine, count: int, ingested_at: datetime, prefix: str) -> list[str]:
    ids = [f"{prefix}{i:030x}"[:32] for i in range(count)]
    with session_scope(engine) as s:
        s.execute(
            insert(models.Headline),
            [
                {
                    "id": hid,
                    "source": "test",
                    "title": f"Headline {hid}",
                    "published_at": ingested_at,
                    "ingested_at": ingested_at,
                }
                for hid in ids
            ],
        )
    return ids


def _classify(engine: Engine, ids: list[str], at: datetime) -> None:
    with session_scope(engine) as s:
        s.execute(
            insert(models.Classification),
            [
                {
                    "headline_id": hid,
                    "model_version": "m1",
                    "topic": "Energy | Oil",
                    "topic_confidence": 0.9,
                    "sentiment": "neutral",
                    "sentiment_confidence": 0.9,
                    "negative_probability": 0.1,
                    "probabilities": {},
                    "published_at": at,
                    "classified_at": at,
                }
                for hid in ids
            ],
        )


def _deliver(engine: Engine, config: AlertsConfig) -> None:
    sender = WebhookSender(SECRET.encode(), timeout_seconds=5)
    try:
        deliver_due(engine, config, sender)
    finally:
        sender.close()


def test_a_healthy_pipeline_raises_nothing(engine: Engine, receiver: Receiver) -> None:
    ids = _headlines(engine, 5, NOW - timedelta(minutes=10), "aa")
    _classify(engine, ids, NOW - timedelta(minutes=9))
    _headlines(engine, 3, NOW - timedelta(seconds=5), "bb")  # just arrived: not waiting yet
    with session_scope(engine) as s:
        assert blind_reasons(s, NOW, BLIND_S) == []
    assert check_pipeline(engine, _config(receiver), BLIND_S, now=NOW) is None


def test_a_stalled_classifier_fires_one_alert_to_every_receiver_and_resolves(
    engine: Engine, receiver: Receiver
) -> None:
    config = _config(receiver)
    waiting = _headlines(engine, 7, NOW - timedelta(minutes=5), "cc")
    assert check_pipeline(engine, config, BLIND_S, now=NOW) is Event.FIRING
    # Still blind a minute later: no second notification.
    assert check_pipeline(engine, config, BLIND_S, now=NOW + timedelta(minutes=1)) is None
    _deliver(engine, config)
    assert sorted(r.path for r in receiver.accepted) == ["/energy", "/ops"]
    native = next(r.body for r in receiver.accepted if r.path == "/ops")
    assert native["event"] == "firing"
    assert native["summary"].startswith("Tapewatch is blind: classify stalled: 7 headlines")
    assert native["alert"]["topic"] == "pipeline" and native["alert"]["rule"] == "pipeline_blind"

    _classify(engine, waiting, NOW + timedelta(minutes=2))
    later = NOW + timedelta(minutes=2, seconds=1)
    assert check_pipeline(engine, config, BLIND_S, now=later) is Event.RESOLVED
    _deliver(engine, config)
    resolved = [r.body for r in receiver.accepted if r.path == "/ops"][-1]
    assert resolved["event"] == "resolved" and "sees headlines again" in resolved["summary"]
    assert len(receiver.keys()) == 4 and receiver.rejected["duplicate"] == 0


def test_every_feed_failing_with_nothing_arriving_is_blind(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.execute(
            insert(models.FeedState),
            [
                {"source": "a", "consecutive_failures": 3, "last_status": "timeout"},
                {"source": "b", "consecutive_failures": 1, "last_status": "not_a_feed"},
            ],
        )
        assert blind_reasons(s, NOW, BLIND_S) == [
            "ingest failing everywhere: all 2 feeds failing, nothing ingested"
        ]
    with session_scope(engine) as s:
        s.execute(insert(models.FeedState).values(source="c", consecutive_failures=0))
        assert blind_reasons(s, NOW, BLIND_S) == []  # one feed still works
