"""Alerts: the filterable list, and one alert with its evidence, the topic's negative share
around it and every webhook delivery attempt from the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from alerts.rules import ENTITY_RULE
from web.queries.common import buckets, floor_to, grain_for, iso, series

STATES = ("pending", "firing", "resolved")

LIST = text(
    """
    SELECT id, topic, rule, state, started_at, fired_at, ended_at, last_evaluated_at,
           evidence -> 'short' -> 'rate' AS short_rate,
           evidence -> 'baseline' -> 'reference_rate' AS reference_rate,
           evidence -> 'short' -> 'p_value' AS p_value
    FROM v_alerts
    WHERE (CAST(:state AS text) IS NULL OR state = :state)
      AND (CAST(:topic AS text) IS NULL OR topic = :topic)
    ORDER BY started_at DESC, id DESC
    LIMIT :limit
    """
)
ONE = text("SELECT * FROM v_alerts WHERE id = :id")
TOPIC_SERIES = text(
    """
    SELECT bucket, topic, headlines, negative FROM v_topic_sentiment_rollup
    WHERE grain_s = :grain AND topic = :topic AND bucket >= :start AND bucket <= :end
    ORDER BY bucket
    """
)
# An entity alert's chart: the entity's negative share (its topic column is only a label).
ENTITY_SERIES = text(
    """
    SELECT date_bin(make_interval(secs => :grain), published_at,
                    TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
           entity_id, count(*) AS headlines,
           count(*) FILTER (WHERE sentiment = 'negative') AS negative
    FROM v_entity_headlines
    WHERE entity_id = :entity_id AND published_at >= :start AND published_at <= :end
    GROUP BY 1, 2
    """
)
NOTIFICATIONS = text(
    """
    SELECT id, receiver, event, format, status, attempts, next_attempt_at, created_at,
           delivered_at, last_error
    FROM v_alert_notifications WHERE alert_id = :id ORDER BY created_at, id
    """
)
ATTEMPTS = text(
    """
    SELECT notification_id, attempt, attempted_at, outcome, status_code, error, duration_ms
    FROM v_alert_delivery_attempts WHERE alert_id = :id ORDER BY notification_id, attempt
    """
)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def list_alerts(
    conn: Connection, state: str | None, topic: str | None, limit: int
) -> dict[str, Any]:
    rows = conn.execute(LIST, {"state": state, "topic": topic, "limit": limit}).all()
    return {
        "items": [
            {
                "id": r.id,
                "topic": r.topic,
                "rule": r.rule,
                "state": r.state,
                # A pending alert that ended without firing is stored as resolved.
                "fired": r.fired_at is not None,
                "started_at": iso(r.started_at),
                "fired_at": iso(r.fired_at),
                "ended_at": iso(r.ended_at),
                "last_evaluated_at": iso(r.last_evaluated_at),
                "short_rate": _num(r.short_rate),
                "reference_rate": _num(r.reference_rate),
                "p_value": _num(r.p_value),
            }
            for r in rows
        ]
    }


def alert_detail(conn: Connection, alert_id: int, now: datetime | None = None) -> dict[str, Any]:
    """The alert, or ``{"alert": None}`` when there is no such alert."""
    row = conn.execute(ONE, {"id": alert_id}).first()
    if row is None:
        return {"alert": None}
    now = now or datetime.now(UTC)
    end = row.ended_at or now
    # Context on both sides: as much again as the alert lasted, at least half an hour.
    pad = max(end - row.started_at, timedelta(minutes=30))
    start, stop = row.started_at - pad, min(end + pad, now)
    grain = grain_for((stop - start).total_seconds())
    grid = buckets(start, stop, grain)
    bounds = {"grain": grain, "start": floor_to(start, grain), "end": stop}
    entity = (row.evidence or {}).get("entity") if row.rule == ENTITY_RULE else None
    if isinstance(entity, dict) and entity.get("id"):
        rows = conn.execute(ENTITY_SERIES, bounds | {"entity_id": entity["id"]}).all()
        chart = series(rows, grid, key="entity_id").get(entity["id"])
    else:
        rows = conn.execute(TOPIC_SERIES, bounds | {"topic": row.topic}).all()
        chart = series(rows, grid).get(row.topic)
    chart = chart or {"headlines": [], "negative": [], "share": []}
    attempts: dict[int, list[dict[str, Any]]] = {}
    for a in conn.execute(ATTEMPTS, {"id": alert_id}):
        attempts.setdefault(a.notification_id, []).append(
            {
                "attempt": a.attempt,
                "attempted_at": iso(a.attempted_at),
                "outcome": a.outcome,
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
        )
    notifications = [
        {
            "id": n.id,
            "receiver": n.receiver,
            "event": n.event,
            "format": n.format,
            "status": n.status,
            "attempts": n.attempts,
            "next_attempt_at": iso(n.next_attempt_at),
            "created_at": iso(n.created_at),
            "delivered_at": iso(n.delivered_at),
            "last_error": n.last_error,
            "history": attempts.get(n.id, []),
        }
        for n in conn.execute(NOTIFICATIONS, {"id": alert_id})
    ]
    return {
        "alert": {
            "id": row.id,
            "topic": row.topic,
            "rule": row.rule,
            "state": row.state,
            "started_at": iso(row.started_at),
            "fired_at": iso(row.fired_at),
            "ended_at": iso(row.ended_at),
            "last_evaluated_at": iso(row.last_evaluated_at),
            "last_notified_at": iso(row.last_notified_at),
            "evidence": row.evidence,
        },
        "chart": {
            "grain_s": grain,
            "buckets": [iso(b) for b in grid],
            "headlines": chart["headlines"] or [0] * len(grid),
            "share": chart["share"] or [None] * len(grid),
        },
        "notifications": notifications,
    }
