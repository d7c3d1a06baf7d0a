"""Overview: negative share and volume per topic over a range, and a row per topic comparing
the alert rule's short window with its baseline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from web.queries.common import RANGES, buckets, floor_to, iso, series, share

# Each row's place on the chart's grid computed by PostgreSQL: 14,400 rows for 30 days, where
# parsing and hashing as many time-zone-aware datetimes in Python cost more than the query.
SERIES = text(
    """
    SELECT (extract(epoch FROM bucket - :start)::bigint / :grain)::int AS slot,
           topic, headlines, negative
    FROM v_topic_sentiment_rollup
    WHERE grain_s = :grain AND bucket >= :start
    ORDER BY bucket, topic
    """
)
# Two index ranges of the rollup: the short window at 1-minute grain, the baseline at the
# finest grain that keeps it to a few hundred rows per topic.
WINDOWS = text(
    """
    SELECT topic, sum(headlines) FILTER (WHERE part = 'now') AS now_total,
           sum(negative) FILTER (WHERE part = 'now') AS now_negative,
           sum(headlines) FILTER (WHERE part = 'base') AS base_total,
           sum(negative) FILTER (WHERE part = 'base') AS base_negative
    FROM (
        SELECT 'now' AS part, topic, headlines, negative FROM v_topic_sentiment_rollup
        WHERE grain_s = 60 AND bucket >= :now_start
        UNION ALL
        SELECT 'base', topic, headlines, negative FROM v_topic_sentiment_rollup
        WHERE grain_s = :base_grain AND bucket >= :base_start AND bucket < :base_end
    ) w
    GROUP BY topic
    """
)
ACTIVE_ALERTS = text(
    """
    SELECT DISTINCT ON (topic) topic, id, state, started_at, fired_at
    FROM v_alerts WHERE state IN ('pending', 'firing')
    ORDER BY topic, started_at DESC
    """
)


def overview(
    conn: Connection,
    range_name: str,
    short_window_s: int,
    baseline_s: int,
    now: datetime | None = None,
) -> dict[str, Any]:
    span_s, grain = RANGES[range_name]
    now = now or datetime.now(UTC)
    start = floor_to(now - timedelta(seconds=span_s), grain)
    grid = buckets(start, now, grain)
    per_topic = series(conn.execute(SERIES, {"grain": grain, "start": start}).all(), grid)

    now_start = floor_to(now - timedelta(seconds=short_window_s), 60)
    base_grain = 60 if baseline_s <= 6 * 3600 else 3600
    base_end = floor_to(now_start, base_grain)
    windows = {
        r.topic: r
        for r in conn.execute(
            WINDOWS,
            {
                "now_start": now_start,
                "base_grain": base_grain,
                "base_start": base_end - timedelta(seconds=baseline_s),
                "base_end": base_end,
            },
        )
    }
    alerts = {r.topic: r for r in conn.execute(ACTIVE_ALERTS)}
    names = sorted(
        set(per_topic) | set(windows) | set(alerts),
        key=lambda t: -sum(per_topic.get(t, {}).get("headlines", [0])),
    )
    rows = []
    for topic in names:
        w = windows.get(topic)
        a = alerts.get(topic)
        rows.append(
            {
                "topic": topic,
                "volume": sum(per_topic.get(topic, {}).get("headlines", [0])),
                "now_total": int(w.now_total or 0) if w else 0,
                "now_share": share(w.now_negative, w.now_total) if w else None,
                "baseline_total": int(w.base_total or 0) if w else 0,
                "baseline_share": share(w.base_negative, w.base_total) if w else None,
                "alert": None
                if a is None
                else {"id": a.id, "state": a.state, "since": iso(a.fired_at or a.started_at)},
            }
        )
    return {
        "range": range_name,
        "grain_s": grain,
        "now_window_s": short_window_s,
        "baseline_s": baseline_s,
        "buckets": [iso(b) for b in grid],
        "topics": [{"topic": t, **per_topic[t]} for t in names if t in per_topic],
        "rows": rows,
    }
