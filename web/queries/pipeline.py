"""Pipeline, the database side: classification rate and latency per minute, model versions in
use, feed states."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from web.queries.common import iso

# The chart: the last 15 minutes of v_classify_recent, whose latency percentiles join each
# classification to its headline; the bound on ``minute`` filters classifications before that
# join. The model table: the hour's counts per version, which need no join (0009).
CHARTED = text(
    """
    SELECT minute, model_version, classified, latency_p50_s, latency_p99_s
    FROM v_classify_recent
    WHERE minute >= now() - interval '15 minutes'
    ORDER BY minute
    """
)
HOUR = text("SELECT minute, model_version, classified FROM v_classify_minutes ORDER BY minute")
FEEDS = text(
    """
    SELECT source, url, last_polled_at, last_status, last_error, last_success_at,
           consecutive_failures, next_poll_after
    FROM v_feed_state ORDER BY source
    """
)
# The newest classification's model, for when nothing was classified in the last hour.
LATEST_MODEL = text(
    "SELECT model_version, classified_at FROM v_headlines "
    "WHERE classified_at IS NOT NULL ORDER BY published_at DESC LIMIT 1"
)


def pipeline_db(conn: Connection) -> dict[str, Any]:
    minutes = [
        {
            "minute": iso(r.minute),
            "model_version": r.model_version,
            "classified": int(r.classified),
            "latency_p50_s": r.latency_p50_s,
            "latency_p99_s": r.latency_p99_s,
        }
        for r in conn.execute(CHARTED)
    ]
    hour = conn.execute(HOUR).all()
    per_model: dict[str, dict[str, Any]] = {}
    for r in hour:  # in minute order: the last row of a version is its last minute
        entry = per_model.setdefault(r.model_version, {"model_version": r.model_version})
        entry["classified_last_hour"] = entry.get("classified_last_hour", 0) + int(r.classified)
        entry["last_minute"] = iso(r.minute)
    models = sorted(per_model.values(), key=lambda m: m["last_minute"], reverse=True)
    if not models:
        latest = conn.execute(LATEST_MODEL).first()
        if latest is not None:
            models = [
                {
                    "model_version": latest.model_version,
                    "classified_last_hour": 0,
                    "last_minute": iso(latest.classified_at),
                }
            ]
    feeds = [
        {
            "source": r.source,
            "url": r.url,
            "last_polled_at": iso(r.last_polled_at),
            "last_status": r.last_status,
            "last_error": r.last_error,
            "last_success_at": iso(r.last_success_at),
            "consecutive_failures": r.consecutive_failures,
            "next_poll_after": iso(r.next_poll_after),
        }
        for r in conn.execute(FEEDS)
    ]
    return {"classified_per_minute": minutes, "models": models, "feeds": feeds}
