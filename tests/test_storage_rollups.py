"""The per-topic rollups against a real PostgreSQL: kept by the trigger in the writing
transaction, equal to grouping the latest classifications, also when a newer model
re-classifies a headline into another topic or sentiment."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import text

from storage import downgrade, make_engine, session_scope, upgrade
from storage.repository import store_classified
from tests.test_storage import T0, make_pair

# What v_topic_sentiment_5m computed before the rollups (migration 0001), for any grain.
PLAIN = text(
    """
    SELECT date_bin(make_interval(secs => :grain), published_at,
                    TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
           topic, count(*), count(*) FILTER (WHERE sentiment = 'negative'),
           count(*) FILTER (WHERE sentiment = 'neutral'),
           count(*) FILTER (WHERE sentiment = 'positive'), avg(negative_probability)
    FROM v_headlines WHERE topic IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
    """
)
ROLLUP = text(
    "SELECT bucket, topic, headlines, negative, neutral, positive, mean_negative_probability "
    "FROM v_topic_sentiment_rollup WHERE grain_s = :grain ORDER BY 1, 2"
)
FIVE_MIN = text(
    "SELECT bucket, topic, headlines, negative, neutral, positive, mean_negative_probability "
    "FROM v_topic_sentiment_5m ORDER BY 1, 2"
)


def _rounded(rows: list) -> list[tuple]:
    return [(*r[:6], round(float(r[6]), 9)) for r in rows]


def test_rollups_equal_the_plain_grouping_through_reclassifications(database_url: str) -> None:
    rng = random.Random(5)
    topics = ["Earnings", "Energy | Oil", "Macro"]
    sentiments = ["negative", "neutral", "positive"]
    engine = make_engine(database_url)
    pairs = [
        make_pair(
            i,
            topic=rng.choice(topics),
            sentiment=rng.choice(sentiments),
            minute=rng.randrange(0, 180),
            p_neg=round(rng.random() * 0.5, 3),
        )
        for i in range(400)
    ]
    for start in range(0, len(pairs), 37):  # batches, as the classifier writes them
        chunk = pairs[start : start + 37]
        with session_scope(engine) as session:
            store_classified(session, [h for h, _ in chunk], [c for _, c in chunk])
    # A newer model re-classifies a third of them: the rollup must move them, not add them.
    # Some arrive classified *earlier* than the stored verdict and so must change nothing.
    newer = []
    for _h, c in pairs[::3]:
        shift = timedelta(hours=1) if rng.random() < 0.8 else -timedelta(hours=1)
        newer.append(
            c.model_copy(
                update={
                    "model_version": "m2",
                    "topic": rng.choice(topics),
                    "sentiment": rng.choice(sentiments),
                    "classified_at": c.classified_at + shift,
                }
            )
        )
    with session_scope(engine) as session:
        store_classified(session, [], newer)
    with session_scope(engine) as session:  # a replay of the same batch adds nothing
        store_classified(session, [], newer)

    with engine.connect() as conn:
        for grain in (60, 300, 3600):
            plain = _rounded(conn.execute(PLAIN, {"grain": grain}).all())
            assert plain, "no data"
            assert _rounded(conn.execute(ROLLUP, {"grain": grain}).all()) == plain
        assert _rounded(conn.execute(FIVE_MIN).all()) == _rounded(
            conn.execute(PLAIN, {"grain": 300}).all()
        )
        total = conn.execute(
            text("SELECT sum(headlines) FROM v_topic_sentiment_rollup WHERE grain_s = 3600")
        ).scalar()
        assert total == 400
    engine.dispose()


def test_rollup_is_written_in_the_classifying_transaction(database_url: str) -> None:
    """A batch that rolls back leaves no trace in the rollup."""
    engine = make_engine(database_url)
    h, c = make_pair(1, topic="Earnings", sentiment="negative", minute=0)
    try:
        with session_scope(engine) as session:
            store_classified(session, [h], [c])
            inside = session.execute(text("SELECT sum(headlines) FROM v_topic_sentiment_5m"))
            assert inside.scalar() == 1
            raise RuntimeError("the batch fails after the write")
    except RuntimeError:
        pass
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM topic_sentiment_rollup")).scalar() == 0
    engine.dispose()


def test_the_migration_builds_the_rollup_from_stored_history(database_url: str) -> None:
    downgrade(database_url, "0003")
    engine = make_engine(database_url)
    pairs = [make_pair(i, topic="Macro", sentiment="negative", minute=i) for i in range(12)]
    with session_scope(engine) as session:
        store_classified(session, [h for h, _ in pairs], [c for _, c in pairs])
    upgrade(database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT bucket, headlines FROM v_topic_sentiment_5m ORDER BY 1"))
        assert [tuple(r) for r in rows] == [
            (T0, 5),
            (T0 + timedelta(minutes=5), 5),
            (T0 + timedelta(minutes=10), 2),
        ]
    engine.dispose()
