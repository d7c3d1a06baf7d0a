"""The live evaluator: one evaluation per interval across all alert processes.

An evaluation runs in one transaction that (1) takes a PostgreSQL advisory lock, so only one
process evaluates at a time, (2) claims the interval's slot in ``alert_evaluations`` (unique),
so a second process arriving after the first has committed finds the slot taken, (3) queries
the windows, (4) applies the pure detector and state machine, and (5) writes alert changes and
their outbox notifications together. A crash anywhere rolls all of it back: no alert changes
state without its notifications queued, and none is queued twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from alerts import formats, rules
from alerts.config import AlertsConfig
from alerts.detector import Counts, Detection, TopicWindows, detect
from alerts.entities import decide_entities
from alerts.state import Alert, Event, Policy, State, Step, step
from alerts.windows import Bounds, most_negative, rules_version, window_counts
from storage import models
from storage.db import session_scope

log = logging.getLogger(__name__)

# Any constant bigint works; this one spells "tapewatc" so it is recognisable in pg_locks.
ADVISORY_LOCK_KEY = 0x7461706577617463
EMPTY = Counts(0, 0)


@dataclass(frozen=True, slots=True)
class Decision:
    detection: Detection
    previous: Alert | None
    step: Step


@dataclass(slots=True)
class Outcome:
    """What one evaluation did."""

    slot_at: datetime
    topics: int = 0
    breaching: int = 0
    events: list[tuple[str, Event]] = field(default_factory=list)
    notifications: int = 0


def policy(config: AlertsConfig) -> Policy:
    return Policy(
        pending=timedelta(seconds=config.pending_seconds),
        repeat_interval=timedelta(seconds=config.repeat_interval_seconds),
        cooldown=timedelta(seconds=config.cooldown_seconds),
    )


def slot_of(now: datetime, interval_seconds: int) -> datetime:
    """The interval boundary at or before ``now`` (epoch-aligned): what an evaluation is "at"."""
    epoch = now.timestamp()
    return datetime.fromtimestamp(epoch - epoch % interval_seconds, UTC)


def slots_between(since: datetime, until: datetime, interval_seconds: int) -> Iterable[datetime]:
    """Every interval boundary in [since, until]."""
    slot = slot_of(since, interval_seconds)
    if slot < since:
        slot += timedelta(seconds=interval_seconds)
    while slot <= until:
        yield slot
        slot += timedelta(seconds=interval_seconds)


def decide(
    session: Session,
    config: AlertsConfig,
    slot_at: datetime,
    active: dict[str, Alert],
    last_fired_end: dict[str, datetime],
    *,
    with_headlines: bool,
    model_version: str | None = None,
) -> list[Decision]:
    """Evaluate every topic at ``slot_at``; shared by the live evaluator and the backtest.

    ``model_version``: whose classifications count (default: the active version's)."""
    bounds = Bounds.at(slot_at - timedelta(seconds=config.evaluation_delay_seconds), config)
    version = rules_version(session, model_version)
    counts = window_counts(session, bounds, version)
    # A topic whose headlines stopped altogether must still be able to resolve. Other rules'
    # alerts (per entity, alerts/entities.py) are decided by their own code.
    for alert in active.values():
        if alert.rule == rules.RULE:
            counts.setdefault(alert.topic, TopicWindows(alert.topic, EMPTY, EMPTY, EMPTY))
    decisions = []
    for topic in sorted(counts):
        detection = detect(counts[topic], rules.thresholds_for(config, topic))
        enabled = rules.enabled(config, topic)
        fp = rules.fingerprint(topic)
        evidence: dict[str, Any] = {
            "rule": rules.RULE,
            "topic": topic,
            "as_of": bounds.as_of.isoformat(),
            "windows_seconds": {
                "short": config.short_window_seconds,
                "long": config.long_window_seconds,
                "baseline": config.baseline_seconds,
            },
            # Alerts keep their history across a model switch; each knows whose verdicts.
            "model_version": version,
            **detection.evidence(),
        }
        if with_headlines and enabled and detection.holding:
            evidence["headlines"] = most_negative(
                session, topic, bounds, config.representative_headlines, version
            )
        previous = active.get(fp)
        result = step(
            previous,
            fingerprint=fp,
            topic=topic,
            rule=rules.RULE,
            breaching=enabled and detection.breaching,
            holding=enabled and detection.holding,
            now=slot_at,
            evidence=evidence,
            policy=policy(config),
            last_fired_end=last_fired_end.get(fp),
        )
        decisions.append(Decision(detection, previous, result))
    return decisions


def evaluator_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def evaluate(engine: Engine, config: AlertsConfig, now: datetime | None = None) -> Outcome | None:
    """Run the evaluation of the interval containing ``now``; None if another process has it."""
    started = time.monotonic()
    slot_at = slot_of(now or datetime.now(UTC), config.interval_seconds)
    with session_scope(engine) as session:
        if not session.execute(select(func.pg_try_advisory_xact_lock(ADVISORY_LOCK_KEY))).scalar():
            log.debug("another process is evaluating; skipping %s", slot_at.isoformat())
            return None
        claimed = session.execute(
            insert(models.AlertEvaluation)
            .values(slot_at=slot_at, evaluator=evaluator_name(), started_at=func.now())
            .on_conflict_do_nothing(index_elements=["slot_at"])
            .returning(models.AlertEvaluation.id)
        ).scalar()
        if claimed is None:
            log.debug("slot %s already evaluated", slot_at.isoformat())
            return None
        # The baseline's DISTINCT ON sorts a week of rows: keep that sort in memory.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        outcome = _evaluate_in(session, config, slot_at)
        session.execute(
            update(models.AlertEvaluation)
            .where(models.AlertEvaluation.id == claimed)
            .values(
                finished_at=func.clock_timestamp(),
                topics=outcome.topics,
                breaching=outcome.breaching,
                notifications=outcome.notifications,
            )
        )
    log.info(
        "evaluated %s: %d topics, %d breaching, %d events, %d notifications in %.0f ms",
        slot_at.isoformat(),
        outcome.topics,
        outcome.breaching,
        len(outcome.events),
        outcome.notifications,
        (time.monotonic() - started) * 1000,
    )
    return outcome


def _evaluate_in(session: Session, config: AlertsConfig, slot_at: datetime) -> Outcome:
    active = {a.fingerprint: a for a in _load_active(session)}
    last_fired_end = _last_fired_end(session)
    decisions = decide(session, config, slot_at, active, last_fired_end, with_headlines=True)
    decisions += decide_entities(
        session, config, slot_at, active, last_fired_end, with_headlines=True
    )
    outcome = Outcome(slot_at=slot_at, topics=len(decisions))
    for d in decisions:
        outcome.breaching += d.detection.breaching
        alert = d.step.alert
        if alert is None:
            continue
        alert = _save(session, alert)
        if d.step.event is not None:
            outcome.events.append((alert.topic, d.step.event))
            outcome.notifications += _enqueue(session, config, alert, d.step.event)
            log.warning(
                "alert %s: %s",
                d.step.event.value,
                formats.summary(alert, d.step.event),
                extra={"topic": alert.topic, "fingerprint": alert.fingerprint},
            )
    return outcome


def _to_alert(row: models.Alert) -> Alert:
    return Alert(
        id=row.id,
        fingerprint=row.fingerprint,
        topic=row.topic,
        rule=row.rule,
        state=State(row.state),
        started_at=row.started_at,
        fired_at=row.fired_at,
        ended_at=row.ended_at,
        last_evaluated_at=row.last_evaluated_at,
        last_notified_at=row.last_notified_at,
        evidence=row.evidence,
    )


def _load_active(session: Session) -> list[Alert]:
    rows = session.scalars(
        select(models.Alert).where(models.Alert.state.in_([State.PENDING, State.FIRING]))
    )
    return [_to_alert(r) for r in rows]


def _last_fired_end(session: Session) -> dict[str, datetime]:
    rows = session.execute(
        select(models.Alert.fingerprint, func.max(models.Alert.ended_at))
        .where(models.Alert.fired_at.is_not(None), models.Alert.ended_at.is_not(None))
        .group_by(models.Alert.fingerprint)
    )
    return {fp: ended for fp, ended in rows}


def _save(session: Session, alert: Alert) -> Alert:
    values = {
        "fingerprint": alert.fingerprint,
        "rule": alert.rule,
        "topic": alert.topic,
        "state": alert.state.value,
        "started_at": alert.started_at,
        "fired_at": alert.fired_at,
        "ended_at": alert.ended_at,
        "last_evaluated_at": alert.last_evaluated_at,
        "last_notified_at": alert.last_notified_at,
        "evidence": alert.evidence,
    }
    if alert.id is None:
        new_id = session.execute(
            insert(models.Alert).values(**values).returning(models.Alert.id)
        ).scalar_one()
        return dataclasses.replace(alert, id=new_id)
    session.execute(update(models.Alert).where(models.Alert.id == alert.id).values(**values))
    return alert


def idempotency_key(alert: Alert, event: Event, receiver: str) -> str:
    """Same alert, event, time and receiver: same key, so a notification is queued at most once."""
    at = alert.last_notified_at or alert.last_evaluated_at
    raw = f"{alert.id}|{alert.fingerprint}|{event.value}|{at.isoformat()}|{receiver}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _enqueue(session: Session, config: AlertsConfig, alert: Alert, event: Event) -> int:
    queued = 0
    for receiver in config.receivers:
        if not receiver.wants(alert.topic):
            continue
        key = idempotency_key(alert, event, receiver.name)
        inserted = session.execute(
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
            .returning(models.AlertNotification.id)
        ).scalar()
        queued += inserted is not None
    return queued
