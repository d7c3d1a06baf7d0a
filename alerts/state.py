"""Alert lifecycle as a pure state-transition function: pending -> firing -> resolved.

``step`` takes the topic's active alert (if any), the detector's verdict and the time, and says
what the alert becomes and which notification, if any, that transition sends. The live
evaluator persists the result; the backtest keeps it in memory. Both call this one function,
which is why a backtest over stored history lists the alerts the live evaluator fired.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class State(StrEnum):
    PENDING = "pending"  # breaching, but not yet for ``pending`` long
    FIRING = "firing"
    RESOLVED = "resolved"  # ended; ``fired_at`` is None when it never got past pending


class Event(StrEnum):
    """What a notification announces."""

    FIRING = "firing"
    REPEAT = "repeat"  # still firing, re-announced after the repeat interval
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Policy:
    pending: timedelta = timedelta(minutes=2)
    repeat_interval: timedelta = timedelta(hours=4)
    cooldown: timedelta = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Alert:
    fingerprint: str
    topic: str
    rule: str
    state: State
    started_at: datetime
    last_evaluated_at: datetime
    fired_at: datetime | None = None
    ended_at: datetime | None = None
    last_notified_at: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    id: int | None = None  # the database row, once stored

    @property
    def active(self) -> bool:
        return self.state in (State.PENDING, State.FIRING)


@dataclass(frozen=True, slots=True)
class Step:
    """The alert after one evaluation (None: nothing active) and the notification to send."""

    alert: Alert | None
    event: Event | None = None


def step(
    active: Alert | None,
    *,
    fingerprint: str,
    topic: str,
    rule: str,
    breaching: bool,
    holding: bool,
    now: datetime,
    evidence: dict[str, Any],
    policy: Policy,
    last_fired_end: datetime | None,
) -> Step:
    """One evaluation of one topic and rule.

    ``breaching`` (both windows breach) starts an alert and carries it from pending to firing;
    ``holding`` (the short window still breaches) keeps a firing alert firing. A firing alert
    resolves as soon as the short window stops breaching, so the resolve follows the spike's
    end within one interval; the cooldown then keeps the tail of a spike from re-alerting.
    """
    if active is None or not active.active:
        if not breaching:
            return Step(None)
        if last_fired_end is not None and now - last_fired_end < policy.cooldown:
            return Step(None)
        pending = Alert(
            fingerprint=fingerprint,
            topic=topic,
            rule=rule,
            state=State.PENDING,
            started_at=now,
            last_evaluated_at=now,
            evidence=evidence,
        )
        if policy.pending <= timedelta(0):
            return _fire(pending, now)
        return Step(pending)

    if active.state is State.PENDING:
        if not breaching:
            # Never fired: it ends quietly, and (not having fired) starts no cooldown.
            return Step(_with(active, state=State.RESOLVED, ended_at=now, last_evaluated_at=now))
        updated = _with(active, last_evaluated_at=now, evidence=evidence)
        if now - active.started_at >= policy.pending:
            return _fire(updated, now)
        return Step(updated)

    # Firing.
    if not holding:
        ended = _with(
            active,
            state=State.RESOLVED,
            ended_at=now,
            last_evaluated_at=now,
            last_notified_at=now,
            evidence={**active.evidence, "at_resolve": evidence},
        )
        return Step(ended, Event.RESOLVED)
    updated = _with(active, last_evaluated_at=now, evidence=evidence)
    last_notified = active.last_notified_at or active.fired_at or active.started_at
    if now - last_notified >= policy.repeat_interval:
        return Step(_with(updated, last_notified_at=now), Event.REPEAT)
    return Step(updated)


def _fire(alert: Alert, now: datetime) -> Step:
    return Step(_with(alert, state=State.FIRING, fired_at=now, last_notified_at=now), Event.FIRING)


def _with(alert: Alert, **changes: Any) -> Alert:
    return dataclasses.replace(alert, **changes)
