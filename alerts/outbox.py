"""The notification outbox: deliver due notifications, record every attempt, back off on failure.

Notifications are queued by the evaluator in the transaction that changed the alert. Here each
one is delivered in a transaction of its own that holds its row (``FOR UPDATE SKIP LOCKED``):
several alert processes can send at once and never send the same notification concurrently.
A notification leaves the queue when its receiver answers 2xx (``delivered``), on a permanent
failure or after ``max_attempts`` (``failed``); otherwise it waits for its next attempt.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session, aliased

from alerts.config import AlertsConfig
from alerts.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from alerts.webhook import WebhookSender, encode
from storage import models
from storage.db import session_scope

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DeliveryStats:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed


def backoff_seconds(
    attempts: int,
    config: AlertsConfig,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Delay after the ``attempts``-th failure: exponential, capped, with jitter.

    The jitter (50-100% of the delay) keeps many queued notifications from hammering a
    recovering receiver in lock-step; a receiver's Retry-After is honoured up to the cap.
    """
    delay = min(config.backoff_max_seconds, config.backoff_initial_seconds * 2 ** (attempts - 1))
    delay *= 0.5 + 0.5 * (rng or random).random()
    if retry_after is not None:
        delay = max(delay, min(retry_after, config.backoff_max_seconds))
    return delay


def deliver_due(
    engine: Engine, config: AlertsConfig, sender: WebhookSender, *, limit: int = 100
) -> DeliveryStats:
    """Attempt up to ``limit`` due notifications, one transaction each."""
    stats = DeliveryStats()
    n, earlier = models.AlertNotification, aliased(models.AlertNotification)
    # In order per alert and receiver: a "resolved" never overtakes its "firing" after an
    # outage, whatever the jittered retry times say.
    blocked = (
        select(earlier.id)
        .where(
            earlier.alert_id == n.alert_id,
            earlier.receiver == n.receiver,
            earlier.status == "pending",
            earlier.id < n.id,
        )
        .exists()
    )
    for _ in range(limit):
        with session_scope(engine) as session:
            row = session.scalars(
                select(n)
                .where(n.status == "pending", n.next_attempt_at <= datetime.now(UTC), ~blocked)
                .order_by(n.next_attempt_at, n.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).one_or_none()
            if row is None:
                break
            _attempt(session, config, sender, row, stats)
    return stats


def _attempt(
    session: Session,
    config: AlertsConfig,
    sender: WebhookSender,
    row: models.AlertNotification,
    stats: DeliveryStats,
) -> None:
    attempted_at = datetime.now(UTC)
    started = time.monotonic()
    row.attempts += 1
    status_code: int | None = None
    error: DeliveryError | None = None
    receiver = config.receiver(row.receiver)
    try:
        if receiver is None:
            raise PermanentDeliveryError(f"receiver {row.receiver!r} is no longer configured")
        status_code = sender.send(
            receiver.url.get_secret_value(), encode(row.payload), row.idempotency_key
        )
    except DeliveryError as exc:
        error = exc
        status_code = exc.status_code
    duration_ms = (time.monotonic() - started) * 1000

    if error is None:
        outcome = "delivered"
        row.status, row.delivered_at, row.last_error = "delivered", datetime.now(UTC), None
        stats.delivered += 1
    elif isinstance(error, RetryableDeliveryError) and row.attempts < config.max_attempts:
        outcome = "retryable"
        delay = backoff_seconds(row.attempts, config, retry_after=error.retry_after)
        row.next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay)
        row.last_error = str(error)
        stats.retrying += 1
    else:
        outcome = "retryable" if isinstance(error, RetryableDeliveryError) else "permanent"
        row.status, row.last_error = "failed", str(error)
        stats.failed += 1
    session.execute(
        insert(models.AlertDeliveryAttempt).values(
            notification_id=row.id,
            attempt=row.attempts,
            attempted_at=attempted_at,
            outcome=outcome,
            status_code=status_code,
            error=None if error is None else str(error),
            duration_ms=duration_ms,
        )
    )
    log_at = logging.INFO if error is None else logging.WARNING
    log.log(
        log_at,
        "notification %d to %s: %s (attempt %d)%s",
        row.id,
        row.receiver,
        row.status if row.status != "pending" else "will retry",
        row.attempts,
        "" if error is None else f": {error}",
        extra={"receiver": row.receiver, "idempotency_key": row.idempotency_key},
    )
