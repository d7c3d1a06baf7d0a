"""Two model versions side by side over stored headlines: ``tapewatch models diff A B``.

Over the headlines both versions classified in a period: how often they agree (overall, per
topic and per sentiment of A), the confusion between their sentiments and their most common
topic swaps, the headlines where they disagree most, and the alerts the rules would have fired
reading each one (the backtest under A and under B).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from alerts.backtest import BacktestAlert, backtest
from alerts.config import AlertsConfig

PAIRS = """
WITH pairs AS (
    SELECT a.headline_id, h.title, a.published_at,
           a.topic AS topic_a, b.topic AS topic_b,
           a.sentiment AS sentiment_a, b.sentiment AS sentiment_b,
           a.negative_probability AS neg_a, b.negative_probability AS neg_b
    FROM classifications a
    JOIN classifications b ON b.headline_id = a.headline_id AND b.model_version = :b
    JOIN headlines h ON h.id = a.headline_id
    WHERE a.model_version = :a AND a.published_at >= :since AND a.published_at < :until
)
"""
OVERALL = text(
    PAIRS
    + """
    SELECT count(*) AS n,
           count(*) FILTER (WHERE topic_a = topic_b) AS topic_agree,
           count(*) FILTER (WHERE sentiment_a = sentiment_b) AS sentiment_agree,
           count(*) FILTER (WHERE topic_a = topic_b AND sentiment_a = sentiment_b) AS both_agree
    FROM pairs
    """
)
PER_TOPIC = text(
    PAIRS
    + """
    SELECT topic_a AS topic, count(*) AS n,
           count(*) FILTER (WHERE topic_a = topic_b) AS topic_agree,
           count(*) FILTER (WHERE sentiment_a = sentiment_b) AS sentiment_agree
    FROM pairs GROUP BY 1 ORDER BY 2 DESC, 1
    """
)
SENTIMENT_CONFUSION = text(
    PAIRS + "SELECT sentiment_a, sentiment_b, count(*) AS n FROM pairs GROUP BY 1, 2 ORDER BY 1, 2"
)
TOPIC_SWAPS = text(
    PAIRS
    + """
    SELECT topic_a, topic_b, count(*) AS n FROM pairs WHERE topic_a <> topic_b
    GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT :limit
    """
)
# A sentiment flip first, then by how far P(negative) moved, then a topic swap.
DISAGREE_MOST = text(
    PAIRS
    + """
    SELECT headline_id, title, published_at, topic_a, topic_b, sentiment_a, sentiment_b,
           neg_a, neg_b
    FROM pairs WHERE sentiment_a <> sentiment_b OR topic_a <> topic_b
    ORDER BY (sentiment_a <> sentiment_b) DESC, abs(neg_a - neg_b) DESC,
             (topic_a <> topic_b) DESC, headline_id
    LIMIT :limit
    """
)


@dataclass
class DiffReport:
    a: str
    b: str
    since: datetime
    until: datetime
    n: int = 0
    topic_agree: int = 0
    sentiment_agree: int = 0
    both_agree: int = 0
    per_topic: list[dict[str, Any]] = field(default_factory=list)
    sentiment_confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    topic_swaps: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    alerts_a: list[BacktestAlert] = field(default_factory=list)
    alerts_b: list[BacktestAlert] = field(default_factory=list)

    def share(self, count: int) -> float:
        return count / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "headlines": self.n,
            "agreement": {
                "topic": self.share(self.topic_agree),
                "sentiment": self.share(self.sentiment_agree),
                "both": self.share(self.both_agree),
            },
            "per_topic": self.per_topic,
            "sentiment_confusion": self.sentiment_confusion,
            "topic_swaps": self.topic_swaps,
            "disagreements": [
                {**d, "published_at": d["published_at"].isoformat()} for d in self.disagreements
            ],
            "alerts": {
                "a": [x.as_dict() for x in self.alerts_a],
                "b": [x.as_dict() for x in self.alerts_b],
            },
        }


def diff(
    engine: Engine,
    config: AlertsConfig,
    a: str,
    b: str,
    since: datetime,
    until: datetime,
    *,
    limit: int = 10,
    with_alerts: bool = True,
) -> DiffReport:
    report = DiffReport(a, b, since, until)
    params = {"a": a, "b": b, "since": since, "until": until, "limit": limit}
    with engine.connect() as conn:
        overall = conn.execute(OVERALL, params).one()
        report.n, report.topic_agree = overall.n, overall.topic_agree
        report.sentiment_agree, report.both_agree = overall.sentiment_agree, overall.both_agree
        report.per_topic = [dict(r._mapping) for r in conn.execute(PER_TOPIC, params)]
        for r in conn.execute(SENTIMENT_CONFUSION, params):
            report.sentiment_confusion.setdefault(r.sentiment_a, {})[r.sentiment_b] = r.n
        report.topic_swaps = [dict(r._mapping) for r in conn.execute(TOPIC_SWAPS, params)]
        report.disagreements = [dict(r._mapping) for r in conn.execute(DISAGREE_MOST, params)]
    if with_alerts:
        report.alerts_a = backtest(engine, config, since, until, a)
        report.alerts_b = backtest(engine, config, since, until, b)
    return report
