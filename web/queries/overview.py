"""Overview: negative share and volume per topic over a range, and a row per topic comparing
the alert rule's short window with its baseline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from web.queries.common import OPENING_RANGES, RANGES, RawJSON, buckets, floor_to, iso, share

# The chart's arrays built by PostgreSQL, one pre-encoded JSON object per topic, busiest
# first: every (topic, grid slot) pair of the range gets the rollup's cell, or volume 0 and
# share null where there is none. Python then handles one string per topic, however many rows
# or buckets the range holds (30 days: 721 hourly buckets x 20 topics, where building and
# encoding 14,400 cells in Python took 60-400 ms on a busy 2-core machine). The grid is joined
# on one integer key (rank x slots + slot) rather than (topic, slot): sorting and merging
# 14,400 collated strings cost more than everything else in the query. Shares are rounded to 4
# places as floats (round() on float8 rounds a tie to even).
SERIES = text(
    """
    WITH cells AS MATERIALIZED (
        SELECT ((date_part('epoch', bucket) - date_part('epoch', CAST(:start AS timestamptz)))
                / :grain)::int AS slot,
               topic, headlines, negative
        FROM v_topic_sentiment_rollup
        WHERE grain_s = :grain AND bucket >= :start AND bucket <= :last
    ), names AS (
        SELECT topic, sum(headlines)::bigint AS volume,
               (row_number() OVER (ORDER BY sum(headlines) DESC, topic) - 1)::int AS rank
        FROM cells GROUP BY topic
    ), keyed AS (
        SELECT n.rank * :slots + c.slot AS k, c.headlines, c.negative
        FROM cells c JOIN names n ON n.topic = c.topic
    ), arrays AS (
        SELECT g.k / :slots AS rank,
               array_agg(coalesce(c.headlines, 0) ORDER BY g.k) AS headlines,
               array_agg(coalesce(c.negative, 0) ORDER BY g.k) AS negative,
               array_agg(round(c.negative * 10000 / c.headlines::float8) / 10000 ORDER BY g.k)
                   AS share
        FROM generate_series(0, (SELECT count(*)::int FROM names) * :slots - 1) AS g (k)
        LEFT JOIN keyed c ON c.k = g.k
        GROUP BY g.k / :slots
    )
    SELECT n.topic, n.volume,
           json_build_object('topic', n.topic, 'headlines', a.headlines,
                             'negative', a.negative, 'share', a.share)::text AS encoded
    FROM arrays a JOIN names n ON n.rank = a.rank
    ORDER BY n.rank
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


OLDEST = text("SELECT min(bucket) AS oldest FROM v_topic_sentiment_rollup WHERE grain_s = :grain")


def opening_range(conn: Connection, now: datetime | None = None) -> str:
    """The range the Overview opens on: the shortest opening range that holds every stored
    bucket (the last one when the history is longer); the shortest when nothing is stored."""
    oldest = conn.execute(OLDEST, {"grain": RANGES["1h"][1]}).scalar()  # the finest
    if oldest is None:
        return OPENING_RANGES[0]
    age_s = ((now or datetime.now(UTC)) - oldest).total_seconds()
    for name in OPENING_RANGES:
        if age_s <= RANGES[name][0]:
            return name
    return OPENING_RANGES[-1]


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
    charted = conn.execute(
        SERIES, {"grain": grain, "start": start, "last": grid[-1], "slots": len(grid)}
    ).all()
    volumes = {r.topic: int(r.volume) for r in charted}

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
    # The charted topics busiest first (as PostgreSQL ordered them), then those seen only in
    # the windows or with an active alert.
    names = [r.topic for r in charted] + sorted((set(windows) | set(alerts)) - set(volumes))
    rows = []
    for topic in names:
        w = windows.get(topic)
        a = alerts.get(topic)
        rows.append(
            {
                "topic": topic,
                "volume": volumes.get(topic, 0),
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
        # [{"topic", "headlines", "negative", "share"}, ...], each list aligned on "buckets"
        "topics": RawJSON("[" + ",".join(r.encoded for r in charted) + "]"),
        "rows": rows,
    }
