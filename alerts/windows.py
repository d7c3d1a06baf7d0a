"""The window queries: per-topic counts in the short, long and baseline windows, and the most
negative headlines of a window.

Windows are over ``published_at`` (event time), so a backtest over stored rows sees what the
live evaluator saw. A headline re-classified by a newer model is counted once, with its latest
classification (as in ``v_headlines``). One range scan over [baseline start, as_of) on
``ix_classifications_published_at`` serves all topics and all three windows: the work grows
with the windows, never with the history behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from alerts.config import AlertsConfig
from alerts.detector import Counts, TopicWindows

# DISTINCT ON picks each headline's latest classification. Every classification of a headline
# carries the headline's published_at, so a headline is in a window with all its versions or
# with none, and deduplicating inside the window is exact. Ids are hex: sorting them bytewise
# (COLLATE "C") gives the same groups as the locale's collation at half the cost.
WINDOW_COUNTS = text(
    """
    WITH latest AS (
        SELECT DISTINCT ON (headline_id COLLATE "C")
               topic, sentiment = 'negative' AS negative, published_at
        FROM classifications
        WHERE published_at >= :baseline_start AND published_at < :as_of
        ORDER BY headline_id COLLATE "C", classified_at DESC, id DESC
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
    SELECT h.id, h.title, h.url, h.source, c.published_at, c.negative_probability
    FROM classifications c
    JOIN headlines h ON h.id = c.headline_id
    WHERE c.topic = :topic AND c.published_at >= :start AND c.published_at < :as_of
      AND c.sentiment = 'negative'
      AND NOT EXISTS (
          SELECT 1 FROM classifications newer
          WHERE newer.headline_id = c.headline_id
            AND (newer.classified_at, newer.id) > (c.classified_at, c.id)
      )
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
    def at(cls, as_of: datetime, config: AlertsConfig) -> Bounds:
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


def window_counts(session: Session, bounds: Bounds) -> dict[str, TopicWindows]:
    """Counts of every topic seen in the baseline or the windows."""
    rows = session.execute(WINDOW_COUNTS, bounds.params()).all()
    return {
        topic: TopicWindows(topic, Counts(st, sn), Counts(lt, ln), Counts(bt, bn))
        for topic, st, sn, lt, ln, bt, bn in rows
    }


def most_negative(session: Session, topic: str, bounds: Bounds, limit: int) -> list[dict[str, Any]]:
    """The short window's most negative headlines of a topic, with links, as evidence."""
    if limit <= 0:
        return []
    rows = session.execute(
        MOST_NEGATIVE,
        {"topic": topic, "start": bounds.short_start, "as_of": bounds.as_of, "limit": limit},
    ).all()
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
