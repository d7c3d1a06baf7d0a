"""The pipeline alert: the monitor tells its users when it cannot see.

A spike alert needs classified headlines; when classify is stalled (headlines waiting, nothing
classified) or ingest fails everywhere (every feed failing, nothing arriving), silence would
read as "all quiet". This check looks at what PostgreSQL holds, so it needs no extra wiring and
sees a worker that is up but stuck as clearly as one that is gone. It fires one alert
(fingerprint of topic ``pipeline``, rule ``pipeline_blind``) through the same outbox and webhook
path as the spike alerts, to every receiver whatever its topic filter, and resolves it once
headlines flow again.

    blind_reasons(session, now, blind_s) -> ["classify stalled: ...", ...]   # pure query
    check_pipeline(engine, config, blind_s)                                    # fire / resolve
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts import formats, rules
from alerts.config import AlertsConfig
from alerts.evaluator import _save, _to_alert, idempotency_key
from alerts.state import Alert, Event, State
from storage import models
from storage.db import session_scope

log = logging.getLogger(__name__)

TOPIC = "pipeline"
FINGERPRINT = rules.fingerprint(TOPIC, rules.PIPELINE_RULE)
LOOKBACK = timedelta(days=1)  # waiting headlines older than this are history, not a stall


def blind_reasons(session: Session, now: datetime, blind_s: float) -> list[str]:
    """Why the pipeline cannot see right now; empty when it can."""
    reasons = []
    cutoff = now - timedelta(seconds=blind_s)
    h, c = models.Headline, models.Classification
    waiting = session.scalar(
        select(func.count())
        .select_from(h)
        .where(
            h.ingested_at < cutoff,
            h.ingested_at > now - LOOKBACK,
            ~exists().where(c.headline_id == h.id),
        )
    )
    recent = session.scalar(select(exists().where(c.classified_at > cutoff)))
    if waiting and not recent:
        reasons.append(
            f"classify stalled: {waiting} headlines waiting more than {blind_s:.0f} s, "
            "none classified since"
        )
    f = models.FeedState
    feeds, failing = session.execute(
        select(func.count(), func.count().filter(f.consecutive_failures > 0))
    ).one()
    arriving = session.scalar(select(exists().where(h.ingested_at > cutoff)))
    if feeds and failing == feeds and not arriving:
        reasons.append(f"ingest failing everywhere: all {feeds} feeds failing, nothing ingested")
    return reasons


def check_pipeline(
    engine: Engine, config: AlertsConfig, blind_s: float, now: datetime | None = None
) -> Event | None:
    """Fire the pipeline alert when blind, resolve it when not; returns the event sent."""
    now = now or datetime.now(UTC)
    try:
        with session_scope(engine) as session:
            reasons = blind_reasons(session, now, blind_s)
            row = session.scalar(
                select(models.Alert).where(
                    models.Alert.fingerprint == FINGERPRINT,
                    models.Alert.state.in_([State.PENDING.value, State.FIRING.value]),
                )
            )
            active = _to_alert(row) if row is not None else None
            if reasons and active is None:
                alert = _save(session, _firing(now, reasons))
                _enqueue_all(session, config, alert, Event.FIRING)
                log.warning("pipeline alert firing: %s", "; ".join(reasons))
                return Event.FIRING
            if not reasons and active is not None:
                alert = dataclasses.replace(
                    active,
                    state=State.RESOLVED,
                    ended_at=now,
                    last_evaluated_at=now,
                    last_notified_at=now,
                )
                _save(session, alert)
                _enqueue_all(session, config, alert, Event.RESOLVED)
                log.info("pipeline alert resolved: headlines flow again")
                return Event.RESOLVED
            if active is not None:
                _save(session, dataclasses.replace(active, last_evaluated_at=now))
            return None
    except IntegrityError:
        # Another alerts worker opened the same alert first (one active per fingerprint).
        return None


def _firing(now: datetime, reasons: list[str]) -> Alert:
    return Alert(
        fingerprint=FINGERPRINT,
        topic=TOPIC,
        rule=rules.PIPELINE_RULE,
        state=State.FIRING,
        started_at=now,
        last_evaluated_at=now,
        fired_at=now,
        last_notified_at=now,
        evidence={"reasons": reasons},
    )


def _enqueue_all(session: Session, config: AlertsConfig, alert: Alert, event: Event) -> None:
    """Queue the notification for every receiver: a blind monitor concerns all of them."""
    for receiver in config.receivers:
        key = idempotency_key(alert, event, receiver.name)
        session.execute(
            insert(models.AlertNotification)
            .values(
                alert_id=alert.id,
                idempotency_key=key,
                event=event.value,
                receiver=receiver.name,
                format=receiver.format,
                payload=formats.render(receiver.format, alert, event, receiver.name, key),
                next_attempt_at=func.now(),
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
