"""Replay the rules over stored history: the alerts that would have fired, sending nothing.

The backtest walks the same interval boundaries the live worker evaluates at and calls the same
``decide`` (window queries, detector, state machine), keeping alert state in memory instead of
the database. It writes nothing and queues nothing. Alerts already active before ``since`` are
not known to it: it starts from a quiet state at ``since``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from alerts.config import AlertsConfig
from alerts.entities import decide_entities
from alerts.evaluator import decide, slots_between
from alerts.state import Alert, Event


@dataclass(slots=True)
class BacktestAlert:
    """An alert that would have fired: when, until when, and how strong it was."""

    topic: str
    rule: str
    fingerprint: str
    fired_at: datetime
    resolved_at: datetime | None = None
    notifications: int = 1
    peak_rate: float = 0.0
    baseline_rate: float = 0.0
    min_p_value: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["fired_at"] = self.fired_at.isoformat()
        doc["resolved_at"] = self.resolved_at.isoformat() if self.resolved_at else None
        return doc


def backtest(
    engine: Engine,
    config: AlertsConfig,
    since: datetime,
    until: datetime,
    model_version: str | None = None,
) -> list[BacktestAlert]:
    """Every alert that would have fired between ``since`` and ``until``, in firing order,
    reading ``model_version``'s classifications (default: the active version's)."""
    active: dict[str, Alert] = {}
    last_fired_end: dict[str, datetime] = {}
    fired: list[BacktestAlert] = []
    open_by_fp: dict[str, BacktestAlert] = {}
    with engine.connect() as conn:
        # Read-only and one snapshot for the whole replay: consistent, and it cannot write.
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        conn.execute(text("SET LOCAL work_mem = '64MB'"))
        session = Session(bind=conn)
        for slot_at in slots_between(since, until, config.interval_seconds):
            decisions = decide(
                session,
                config,
                slot_at,
                active,
                last_fired_end,
                with_headlines=False,
                model_version=model_version,
            )
            decisions += decide_entities(
                session, config, slot_at, active, last_fired_end, with_headlines=False
            )
            for d in decisions:
                alert = d.step.alert
                if alert is None:
                    continue
                if alert.active:
                    active[alert.fingerprint] = alert
                else:
                    active.pop(alert.fingerprint, None)
                    if alert.fired_at is not None and alert.ended_at is not None:
                        last_fired_end[alert.fingerprint] = alert.ended_at
                record = open_by_fp.get(alert.fingerprint)
                if d.step.event is Event.FIRING:
                    record = BacktestAlert(
                        alert.topic, alert.rule, alert.fingerprint, fired_at=slot_at
                    )
                    open_by_fp[alert.fingerprint] = record
                    fired.append(record)
                elif d.step.event is not None and record is not None:
                    record.notifications += 1
                    if d.step.event is Event.RESOLVED:
                        record.resolved_at = slot_at
                        del open_by_fp[alert.fingerprint]
                if record is not None and alert.active and d.detection.breaching:
                    short = d.detection.short
                    record.peak_rate = max(record.peak_rate, short.rate)
                    record.min_p_value = min(record.min_p_value, short.p_value)
                    record.baseline_rate = d.detection.reference_rate
        session.close()
    return fired
