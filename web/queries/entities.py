"""Entities: every watchlist entity seen, negative share now against its baseline, and one
entity's negative share over time, its recent headlines (its own verdict beside the
headline's) and its alerts.

Everything reads ``v_entity_headlines`` bounded by ``published_at`` (migration 0008 lets that
bound reach the entity table's index before the per-entity ranking) rather than
``v_entity_sentiment_5m``, whose buckets PostgreSQL can only filter after grouping them all.
An entity has a few headlines a day, so grouping its rows per request is cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from alerts.rules import ENTITY_RULE as RULE
from web.queries.common import buckets, floor_to, iso, series, share

# Range name -> (span, chart grain): coarser than the topics' (common.RANGES), since a company
# may have five headlines a day and a five-minute share would be 0, 1 or nothing.
RANGES: dict[str, tuple[int, int]] = {
    "24h": (86400, 3600),
    "7d": (7 * 86400, 6 * 3600),
    "30d": (30 * 86400, 86400),
}
DEFAULT_RANGE = "7d"

LIST = text(
    """
    SELECT entity_id, (array_agg(entity_name ORDER BY published_at DESC))[1] AS entity_name,
           count(*) FILTER (WHERE published_at >= :now_start) AS now_total,
           count(*) FILTER (WHERE published_at >= :now_start AND sentiment = 'negative')
               AS now_negative,
           count(*) FILTER (WHERE published_at < :now_start) AS base_total,
           count(*) FILTER (WHERE published_at < :now_start AND sentiment = 'negative')
               AS base_negative,
           count(*) FILTER (WHERE published_at >= :range_start) AS volume,
           max(published_at) AS last_seen
    FROM v_entity_headlines
    WHERE published_at >= least(:base_start, :range_start)
    GROUP BY entity_id
    """
)
# The pending or firing alert of each entity (its id is in the evidence; the topic column
# holds the display name, which the watchlist may change).
ACTIVE_ALERTS = text(
    """
    SELECT DISTINCT ON (evidence -> 'entity' ->> 'id') evidence -> 'entity' ->> 'id' AS entity_id,
           id, state, started_at, fired_at
    FROM v_alerts WHERE rule = :rule AND state IN ('pending', 'firing')
    ORDER BY evidence -> 'entity' ->> 'id', started_at DESC
    """
)
ONE = text(
    """
    SELECT (array_agg(entity_name ORDER BY published_at DESC))[1] AS entity_name,
           count(*) AS total, min(published_at) AS first_seen, max(published_at) AS last_seen
    FROM v_entity_headlines WHERE entity_id = :id
    """
)
SERIES = text(
    """
    SELECT date_bin(make_interval(secs => :grain), published_at,
                    TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
           entity_id, count(*) AS headlines, count(*) FILTER (WHERE sentiment = 'negative')
               AS negative
    FROM v_entity_headlines
    WHERE entity_id = :id AND published_at >= :start
    GROUP BY 1, 2
    """
)
# The entity's verdict beside the headline's own (v_headlines: the counted classification).
HEADLINES = text(
    """
    SELECT e.id, e.title, e.url, e.source, e.published_at, e.matched_text, e.sentiment,
           e.sentiment_confidence, e.negative_probability, e.method, e.model_version,
           h.sentiment AS headline_sentiment, h.sentiment_confidence AS headline_confidence,
           h.topic, h.model_version AS headline_model_version
    FROM (
        SELECT * FROM v_entity_headlines
        WHERE entity_id = :id AND (CAST(:before AS timestamptz) IS NULL
                                   OR published_at < :before)
        ORDER BY published_at DESC, id DESC LIMIT :limit
    ) e
    LEFT JOIN v_headlines h ON h.id = e.id
    ORDER BY e.published_at DESC, e.id DESC
    """
)
ALERTS = text(
    """
    SELECT id, state, started_at, fired_at, ended_at,
           evidence -> 'short' -> 'rate' AS short_rate,
           evidence -> 'baseline' -> 'reference_rate' AS reference_rate,
           evidence -> 'short' -> 'p_value' AS p_value
    FROM v_alerts WHERE rule = :rule AND evidence -> 'entity' ->> 'id' = :id
    ORDER BY started_at DESC, id DESC LIMIT 50
    """
)
# The entities each listed headline names, for the Headlines page.
NAMED = text(
    """
    SELECT id, entity_id, entity_name, matched_text, sentiment, sentiment_confidence, method
    FROM v_entity_headlines WHERE id = ANY(:ids)
    ORDER BY id, entity_name, entity_id
    """
)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _alert(a: Any) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"id": a.id, "state": a.state, "since": iso(a.fired_at or a.started_at)}


def entity_list(
    conn: Connection,
    range_name: str,
    short_window_s: int,
    baseline_s: int,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Every entity seen in the baseline or the range, busiest now first."""
    now = now or datetime.now(UTC)
    now_start = now - timedelta(seconds=short_window_s)
    params = {
        "now_start": now_start,
        "base_start": now_start - timedelta(seconds=baseline_s),
        "range_start": now - timedelta(seconds=RANGES[range_name][0]),
    }
    alerts = {r.entity_id: r for r in conn.execute(ACTIVE_ALERTS, {"rule": RULE})}
    rows = []
    for r in conn.execute(LIST, params):
        rows.append(
            {
                "entity_id": r.entity_id,
                "entity_name": r.entity_name,
                "now_total": int(r.now_total),
                "now_share": share(r.now_negative, r.now_total),
                "baseline_total": int(r.base_total),
                "baseline_share": share(r.base_negative, r.base_total),
                "volume": int(r.volume),
                "last_seen": iso(r.last_seen),
                "alert": _alert(alerts.get(r.entity_id)),
            }
        )
    # Alerting first, then what is busy now, then the range's volume.
    rows.sort(key=lambda e: (e["alert"] is None, -e["now_total"], -e["volume"], e["entity_name"]))
    return {
        "range": range_name,
        "now_window_s": short_window_s,
        "baseline_s": baseline_s,
        "rows": rows,
    }


def entity_detail(
    conn: Connection,
    entity_id: str,
    range_name: str,
    limit: int,
    before: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The entity, or ``{"entity": None}`` when no headline has named it."""
    one = conn.execute(ONE, {"id": entity_id}).one()
    if not one.total:
        return {"entity": None}
    now = now or datetime.now(UTC)
    span_s, grain = RANGES[range_name]
    start = floor_to(now - timedelta(seconds=span_s), grain)
    grid = buckets(start, now, grain)
    rows = conn.execute(SERIES, {"grain": grain, "id": entity_id, "start": start}).all()
    chart = series(rows, grid, key="entity_id").get(entity_id)
    headlines = [
        {
            "id": h.id,
            "title": h.title,
            "url": h.url,
            "source": h.source,
            "published_at": iso(h.published_at),
            "matched_text": h.matched_text,
            "sentiment": h.sentiment,
            "sentiment_confidence": h.sentiment_confidence,
            "negative_probability": h.negative_probability,
            "method": h.method,
            "model_version": h.model_version,
            "headline_sentiment": h.headline_sentiment,
            "headline_confidence": h.headline_confidence,
            "topic": h.topic,
            "headline_model_version": h.headline_model_version,
        }
        for h in conn.execute(HEADLINES, {"id": entity_id, "before": before, "limit": limit})
    ]
    alerts = [
        {
            "id": a.id,
            "state": a.state,
            "fired": a.fired_at is not None,
            "started_at": iso(a.started_at),
            "fired_at": iso(a.fired_at),
            "ended_at": iso(a.ended_at),
            "short_rate": _num(a.short_rate),
            "reference_rate": _num(a.reference_rate),
            "p_value": _num(a.p_value),
        }
        for a in conn.execute(ALERTS, {"rule": RULE, "id": entity_id})
    ]
    return {
        "entity": {
            "id": entity_id,
            "name": one.entity_name,
            "headlines": int(one.total),
            "first_seen": iso(one.first_seen),
            "last_seen": iso(one.last_seen),
        },
        "range": range_name,
        "chart": {
            "grain_s": grain,
            "buckets": [iso(b) for b in grid],
            "headlines": chart["headlines"] if chart else [0] * len(grid),
            "share": chart["share"] if chart else [None] * len(grid),
        },
        "headlines": headlines,
        "oldest": headlines[-1]["published_at"] if headlines else None,
        "alerts": alerts,
    }


def named_entities(conn: Connection, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """headline id -> the watchlist entities it names, each with its own sentiment."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not ids:
        return out
    for r in conn.execute(NAMED, {"ids": ids}):
        out.setdefault(r.id, []).append(
            {
                "id": r.entity_id,
                "name": r.entity_name,
                "matched_text": r.matched_text,
                "sentiment": r.sentiment,
                "sentiment_confidence": r.sentiment_confidence,
                "method": r.method,
            }
        )
    return out
