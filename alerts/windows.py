"""The window queries: per-topic counts in the short, long and baseline windows, and the most
negative headlines of a window.

Windows are over ``published_at`` (event time), so a backtest over stored rows sees what the
live evaluator saw. A headline classified by several models is counted once, with the
classification of the version the rules read (the active one unless a backtest names another),
or the newest one where that version has not classified it (as in ``v_headlines``). One range
scan over [baseline start, as_of) on ``ix_classifications_published_at`` serves all topics and
all three windows: the work grows with the windows, never with the history behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from alerts.config import AlertsConfig, EntityAlertsConfig
from alerts.detector import Counts, TopicWindows

# DISTINCT ON picks each headline's classification by the chosen version, else its newest.
# Every classification of a headline carries the headline's published_at, so a headline is in a
# window with all its versions or with none, and deduplicating inside the window is exact. Ids
# are hex: sorting them bytewise (COLLATE "C") gives the same groups as the locale's collation
# at half the cost.
WINDOW_COUNTS = text(
    """
    WITH latest AS (
        SELECT DISTINCT ON (headline_id COLLATE "C")
               topic, sentiment = 'negative' AS negative, published_at
        FROM classifications
        WHERE published_at >= :baseline_start AND published_at < :as_of
        ORDER BY headline_id COLLATE "C", (model_version = :model_version) IS TRUE DESC,
                 classified_at DESC, id DESC
    )
    SELECT topic,
           count(*) FILTER (WHERE published_at >= :short_start),
           count(*) FILTER (WHERE published_at >= :short_start AND negative),
           count(*) FILTER (WHERE published_at >= :long_start),
           count(*) FILTER (WHERE published_at >= :long_start AND negative),
           count(*) FILTER (WHERE published_at < :long_start),
           count(*) FILTER (WHERE published_at < :long_start AND negative)
    FROM latest
    GROUP BY topic
    """
)

MOST_NEGATIVE = text(
    """
    WITH counted AS (
        SELECT DISTINCT ON (headline_id) headline_id, topic, sentiment, published_at,
               negative_probability
        FROM classifications
        WHERE published_at >= :start AND published_at < :as_of
        ORDER BY headline_id, (model_version = :model_version) IS TRUE DESC,
                 classified_at DESC, id DESC
    )
    SELECT h.id, h.title, h.url, h.source, c.published_at, c.negative_probability
    FROM counted c
    JOIN headlines h ON h.id = c.headline_id
    WHERE c.topic = :topic AND c.sentiment = 'negative'
    ORDER BY c.negative_probability DESC, c.published_at DESC, h.id
    LIMIT :limit
    """
)


@dataclass(frozen=True, slots=True)
class Bounds:
    """Where the windows start for one evaluation; each window ends at ``as_of`` (exclusive),
    except the baseline, which ends where the long window starts so a spike cannot raise its
    own bar."""

    as_of: datetime
    short_start: datetime
    long_start: datetime
    baseline_start: datetime

    @classmethod
    def at(cls, as_of: datetime, config: AlertsConfig | EntityAlertsConfig) -> Bounds:
        long_start = as_of - timedelta(seconds=config.long_window_seconds)
        return cls(
            as_of=as_of,
            short_start=as_of - timedelta(seconds=config.short_window_seconds),
            long_start=long_start,
            baseline_start=long_start - timedelta(seconds=config.baseline_seconds),
        )

    def params(self) -> dict[str, datetime]:
        return {
            "as_of": self.as_of,
            "short_start": self.short_start,
            "long_start": self.long_start,
            "baseline_start": self.baseline_start,
        }


ACTIVE_VERSION = text("SELECT version FROM model_versions WHERE active")


def rules_version(session: Session, model_version: str | None = None) -> str | None:
    """The version whose classifications the rules read: ``model_version``, else the active."""
    if model_version is not None:
        return model_version
    return session.execute(ACTIVE_VERSION).scalar_one_or_none()


def window_counts(
    session: Session, bounds: Bounds, model_version: str | None = None
) -> dict[str, TopicWindows]:
    """Counts of every topic seen in the baseline or the windows, under ``model_version``
    (default: the active version)."""
    params = {**bounds.params(), "model_version": rules_version(session, model_version)}
    rows = session.execute(WINDOW_COUNTS, params).all()
    return {
        topic: TopicWindows(topic, Counts(st, sn), Counts(lt, ln), Counts(bt, bn))
        for topic, st, sn, lt, ln, bt, bn in rows
    }


def most_negative(
    session: Session, topic: str, bounds: Bounds, limit: int, model_version: str | None = None
) -> list[dict[str, Any]]:
    """The short window's most negative headlines of a topic, with links, as evidence."""
    if limit <= 0:
        return []
    params = {
        "topic": topic,
        "start": bounds.short_start,
        "as_of": bounds.as_of,
        "limit": limit,
        "model_version": rules_version(session, model_version),
    }
    rows = session.execute(MOST_NEGATIVE, params).all()
    return [
        {
            "id": r.id,
            "title": r.title,
            "url": r.url,
            "source": r.source,
            "published_at": r.published_at.isoformat(),
            "negative_probability": r.negative_probability,
        }
        for r in rows
    ]
