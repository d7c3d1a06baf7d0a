"""Storage against a real PostgreSQL: migrations both ways, bulk idempotent writes, the views
that dashboards read, and the read-only role that cannot write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from storage import downgrade, make_engine, session_scope, upgrade
from storage.models import Base
from storage.repository import count_classifications, store_classified
from tapewatch.events import ClassifiedHeadline, Headline
from tapewatch.local import LocalPostgres

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

# The dashboard contract: columns of each view, in order. Changing them breaks dashboards.
VIEW_COLUMNS = {
    "v_headlines": [
        "id",
        "source",
        "url",
        "title",
        "published_at",
        "ingested_at",
        "tickers",
        "cluster_id",
        "topic",
        "topic_confidence",
        "sentiment",
        "sentiment_confidence",
        "negative_probability",
        "probabilities",
        "model_version",
        "classified_at",
    ],
    "v_topic_sentiment_5m": [
        "bucket",
        "topic",
        "headlines",
        "negative",
        "neutral",
        "positive",
        "mean_negative_probability",
    ],
    "v_alerts": [
        "id",
        "topic",
        "rule",
        "state",
        "started_at",
        "fired_at",
        "ended_at",
        "last_evaluated_at",
        "last_notified_at",
        "evidence",
    ],
}


def make_pair(
    n: int, *, topic: str, sentiment: str, minute: int, model: str = "m1", p_neg: float = 0.1
) -> tuple[Headline, ClassifiedHeadline]:
    published = T0 + timedelta(minutes=minute)
    h = Headline(
        id=f"{n:032x}",
        source="test",
        title=f"headline {n}",
        url=f"https://example.com/{n}",
        published_at=published,
        ingested_at=published,
        tickers=["ACME"],
    )
    c = ClassifiedHeadline(
        headline_id=h.id,
        source=h.source,
        title=h.title,
        url=h.url,
        published_at=published,
        topic=topic,
        topic_confidence=0.9,
        sentiment=sentiment,
        sentiment_confidence=0.8,
        probabilities={"sentiment": {"negative": p_neg, "neutral": 0.5, "positive": 0.5 - p_neg}},
        model_version=model,
        classified_at=published + timedelta(seconds=1),
    )
    return h, c


def test_upgrade_and_downgrade_round_trip(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    tables = set(inspect(engine).get_table_names())
    assert {"headlines", "classifications", "feed_state", "ingest_seen"} <= tables
    assert {"v_headlines", "v_topic_sentiment_5m"} <= set(inspect(engine).get_view_names())

    downgrade(empty_database_url, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    assert inspect(engine).get_view_names() == []

    upgrade(empty_database_url)  # and back up again, cleanly
    assert {"headlines", "classifications"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_view_columns_are_the_documented_contract(database_url: str) -> None:
    engine = create_engine(database_url)
    for view, columns in VIEW_COLUMNS.items():
        assert [c["name"] for c in inspect(engine).get_columns(view)] == columns
    engine.dispose()


def test_bulk_store_is_idempotent_and_readable_through_views(database_url: str) -> None:
    engine = make_engine(database_url)
    pairs = [
        make_pair(i, topic="Earnings", sentiment="negative", minute=1, p_neg=0.8) for i in range(3)
    ]
    pairs += [make_pair(10 + i, topic="Earnings", sentiment="positive", minute=2) for i in range(2)]
    pairs += [make_pair(20, topic="Fed | Central Banks", sentiment="neutral", minute=7)]
    headlines = [h for h, _ in pairs]
    results = [c for _, c in pairs]

    with session_scope(engine) as session:
        first = store_classified(session, headlines + headlines[:2], results + results[:2])
    assert (first.headlines_inserted, first.classifications_inserted) == (6, 6)
    with session_scope(engine) as session:  # a replay after a crash
        again = store_classified(session, headlines, results)
    assert (again.headlines_inserted, again.classifications_inserted) == (0, 0)

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT bucket, topic, headlines, negative, neutral, positive, "
                "mean_negative_probability FROM v_topic_sentiment_5m "
                "ORDER BY bucket, topic"
            )
        ).all()
        assert rows == [
            (T0, "Earnings", 5, 3, 0, 2, pytest.approx(0.52)),
            (T0 + timedelta(minutes=5), "Fed | Central Banks", 1, 0, 1, 0, pytest.approx(0.1)),
        ]
        one = conn.execute(
            text("SELECT title, topic, sentiment, tickers FROM v_headlines WHERE id = :id"),
            {"id": headlines[0].id},
        ).one()
        assert tuple(one) == ("headline 0", "Earnings", "negative", ["ACME"])
    engine.dispose()


def test_v_headlines_shows_the_latest_classification_only(database_url: str) -> None:
    engine = make_engine(database_url)
    h, old = make_pair(1, topic="Markets", sentiment="neutral", minute=0, model="old")
    _, new = make_pair(1, topic="Earnings", sentiment="negative", minute=0, model="new")
    new = new.model_copy(update={"classified_at": old.classified_at + timedelta(hours=1)})
    with session_scope(engine) as session:
        store_classified(session, [h], [old, new])
        assert count_classifications(session) == 2
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT model_version, topic FROM v_headlines")).all()
        assert rows == [("new", "Earnings")]
        counted = conn.execute(text("SELECT sum(headlines) FROM v_topic_sentiment_5m")).scalar()
        assert counted == 1  # one headline, counted once despite two model versions
    engine.dispose()


def test_readonly_role_reads_views_and_cannot_write(
    database_url: str, postgres: LocalPostgres
) -> None:
    engine = make_engine(database_url)
    h, c = make_pair(1, topic="Earnings", sentiment="negative", minute=0)
    with session_scope(engine) as session:
        store_classified(session, [h], [c])
        session.execute(
            text(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dash_user') "
                "THEN CREATE ROLE dash_user LOGIN IN ROLE tapewatch_readonly; END IF; END $$"
            )
        )
    engine.dispose()

    dbname = database_url.rsplit("/", 1)[1]
    conn = psycopg2.connect(postgres.dsn(dbname, user="dash_user"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM v_headlines")
            assert cur.fetchone() == (1,)
            cur.execute("SELECT count(*) FROM v_topic_sentiment_5m")
            assert cur.fetchone() == (1,)
            cur.execute("SELECT count(*) FROM v_alerts")
            assert cur.fetchone() == (0,)
            forbidden = [
                "SELECT * FROM alerts",
                "SELECT * FROM alert_notifications",
                "SELECT * FROM headlines",
                "SELECT * FROM classifications",
                "INSERT INTO headlines (id, source, title, published_at, ingested_at) "
                "VALUES ('ff', 's', 't', now(), now())",
                "UPDATE classifications SET topic = 'x'",
                "DELETE FROM headlines",
                "CREATE TABLE sneaky (id int)",
                "DROP VIEW v_headlines",
            ]
            for statement in forbidden:
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(statement)
    finally:
        conn.close()
