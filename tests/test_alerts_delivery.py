"""Webhook delivery through the outbox to a real HTTP receiver on loopback: signed requests,
retries with backoff while the receiver is down, every notification delivered once when it
comes back, permanent failures not retried, and every attempt recorded."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from alerts.config import AlertsConfig
from alerts.evaluator import evaluate, slots_between
from alerts.outbox import backoff_seconds, deliver_due
from alerts.webhook import WebhookSender, encode, sign, verify
from storage import models
from storage.db import make_engine, session_scope
from tests.test_alerts_support import SECRET, T0, Receiver, seed, spike_scenario


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def alerts_config(receiver: Receiver, **extra: object) -> AlertsConfig:
    return AlertsConfig.model_validate(
        {
            "baseline_seconds": 6 * 3600,
            "webhook_secret": SECRET,
            "receivers": [
                {"name": "native", "url": receiver.url("/native"), "format": "native"},
                {"name": "am", "url": receiver.url("/am"), "format": "alertmanager"},
                {"name": "slack", "url": receiver.url("/slack"), "format": "slack"},
            ],
            "backoff_initial_seconds": 0.2,
            "backoff_max_seconds": 0.5,
            "request_timeout_seconds": 2,
            **extra,
        }
    )


def queue_spike_notifications(engine: Engine, config: AlertsConfig) -> None:
    """Seed the spike scenario and evaluate it: a firing and a resolved notification for each
    of the three receivers."""
    seed(engine, spike_scenario())
    for slot in slots_between(T0, T0 + timedelta(hours=2), 60):
        evaluate(engine, config, now=slot)


def notifications(engine: Engine) -> list[models.AlertNotification]:
    with session_scope(engine) as s:
        rows = list(
            s.scalars(select(models.AlertNotification).order_by(models.AlertNotification.id))
        )
        s.expunge_all()
    return rows


def attempts(engine: Engine) -> list[tuple[int, str, int | None]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(
                models.AlertDeliveryAttempt.notification_id,
                models.AlertDeliveryAttempt.outcome,
                models.AlertDeliveryAttempt.status_code,
            ).order_by(models.AlertDeliveryAttempt.id)
        ).all()
    return [tuple(r) for r in rows]


def test_a_receiver_down_for_a_while_gets_every_notification_once(engine: Engine) -> None:
    receiver = Receiver()  # not listening yet: connections are refused
    config = alerts_config(receiver)
    queue_spike_notifications(engine, config)
    queued = notifications(engine)
    assert len(queued) == 6

    with WebhookSender(SECRET.encode(), timeout_seconds=2) as sender:
        first = deliver_due(engine, config, sender)
        # Only the three firing notifications: each resolved one waits behind its firing one.
        assert (first.delivered, first.retrying) == (0, 3)
        receiver.start()
        receiver.mode = "unavailable"  # up, but answering 503
        try:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                deliver_due(engine, config, sender)
                time.sleep(0.05)
            assert receiver.accepted == [] and receiver.requests > 0
            receiver.mode = "ok"  # back
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(receiver.accepted) < 6:
                deliver_due(engine, config, sender)
                time.sleep(0.05)
            for _ in range(5):  # and nothing more arrives afterwards
                deliver_due(engine, config, sender)
                time.sleep(0.1)
        finally:
            receiver.stop()

    assert receiver.keys() == Counter({n.idempotency_key: 1 for n in queued})
    assert receiver.rejected == Counter()  # every request was correctly signed and fresh
    rows = notifications(engine)
    assert {n.status for n in rows} == {"delivered"}
    # Firing ones: refused, 503 (at least once), accepted. Resolved ones waited behind them.
    assert all(n.attempts >= 3 for n in rows if n.event == "firing")
    log = attempts(engine)
    assert len(log) == sum(n.attempts for n in rows)
    outcomes = Counter((outcome, code) for _, outcome, code in log)
    assert outcomes[("retryable", None)] == 3  # connection refused, once each
    assert outcomes[("retryable", 503)] >= 3
    assert outcomes[("delivered", 200)] == 6

    # Per receiver, the firing notification arrived before the resolved one.
    for path in ("/native", "/am", "/slack"):
        order = [r.key for r in receiver.accepted if r.path == path]
        assert order == [n.idempotency_key for n in queued if f"/{n.receiver}" == path]
    native = next(r.body for r in receiver.accepted if r.path == "/native")
    assert native["event"] == "firing" and native["alert"]["topic"] == "Earnings"
    assert native["alert"]["evidence"]["headlines"][0]["url"].startswith("https://")
    am = next(r.body for r in receiver.accepted if r.path == "/am")
    assert am["version"] == "4" and am["alerts"][0]["labels"]["topic"] == "Earnings"
    assert {r.body["status"] for r in receiver.accepted if r.path == "/am"} == {
        "firing",
        "resolved",
    }
    slack = [r.body for r in receiver.accepted if r.path == "/slack"]
    assert all(isinstance(b["text"], str) and b["blocks"] for b in slack)
    assert "<https://news.example/" in str(slack[0]["blocks"])


def test_permanent_failures_are_not_retried(engine: Engine) -> None:
    receiver = Receiver().start()
    config = alerts_config(receiver)
    config.receivers[0].url = config.receivers[0].url.__class__(receiver.url("/gone"))
    queue_spike_notifications(engine, config)
    try:
        # The 'am' and 'slack' receivers sign with the wrong secret: rejected with 401.
        with WebhookSender(b"not-the-shared-secret", timeout_seconds=2) as sender:
            stats = deliver_due(engine, config, sender)
            again = deliver_due(engine, config, sender)
    finally:
        receiver.stop()
    assert (stats.failed, stats.delivered, stats.retrying) == (6, 0, 0)
    assert again.attempted == 0
    assert {n.status for n in notifications(engine)} == {"failed"}
    assert Counter(code for _, _, code in attempts(engine)) == Counter({410: 2, 401: 4})
    assert receiver.rejected == Counter({"gone": 2, "signature": 4})


def test_a_removed_receiver_fails_its_notifications_without_sending(engine: Engine) -> None:
    receiver = Receiver().start()
    config = alerts_config(receiver)
    queue_spike_notifications(engine, config)
    shrunk = config.model_copy(update={"receivers": config.receivers[:1]})
    try:
        with WebhookSender(SECRET.encode(), timeout_seconds=2) as sender:
            stats = deliver_due(engine, shrunk, sender)
    finally:
        receiver.stop()
    assert (stats.delivered, stats.failed) == (2, 4)
    assert receiver.requests == 2


def test_signatures_cover_timestamp_and_body_and_expire() -> None:
    secret, body = SECRET.encode(), encode({"b": 1, "a": [1, 2]})
    assert body == b'{"a":[1,2],"b":1}'  # compact, sorted: the same bytes on every attempt
    ts = 1_800_000_000
    signature = sign(secret, ts, body)
    ok = {"timestamp": str(ts), "signature": signature, "body": body}
    assert verify(secret, **ok, now=ts + 10)
    assert not verify(secret, **ok, now=ts + 301)  # a replay after the tolerance
    assert not verify(b"other", **ok, now=ts)
    assert not verify(secret, **{**ok, "body": body + b" "}, now=ts)
    assert not verify(secret, **{**ok, "timestamp": str(ts + 1)}, now=ts)


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    config = AlertsConfig(backoff_initial_seconds=1, backoff_max_seconds=30)
    delays = [backoff_seconds(n, config) for n in range(1, 10)]
    assert 0.5 <= delays[0] <= 1 and 4 <= delays[3] <= 8
    assert all(15 <= d <= 30 for d in delays[6:])
    assert backoff_seconds(1, config, retry_after=20) == 20
    assert backoff_seconds(1, config, retry_after=999) == 30
