"""headline_entities against a real PostgreSQL: idempotent writes, the per-entity views with the
topic views' column conventions, and the read-only role reading them."""

from __future__ import annotations

from datetime import timedelta

import psycopg2
import pytest
from sqlalchemy import create_engine, inspect, text

from storage import make_engine, session_scope
from storage.entities import EntityRow, store_entities
from storage.repository import store_classified
from tests.test_storage import T0, make_pair

VIEW_COLUMNS = {
    "v_entity_headlines": [
        "id",
        "entity_id",
        "entity_name",
        "matched_text",
        "source",
        "url",
        "title",
        "published_at",
        "ingested_at",
        "tickers",
        "cluster_id",
        "sentiment",
        "sentiment_confidence",
        "negative_probability",
        "method",
        "model_version",
        "classified_at",
    ],
    "v_entity_sentiment_5m": [
        "bucket",
        "entity_id",
        "entity_name",
        "headlines",
        "negative",
        "neutral",
        "positive",
        "mean_negative_probability",
    ],
}


def entity_row(
    headline_id: str, entity: str, sentiment: str, minute: int, **kw: object
) -> EntityRow:
    published = T0 + timedelta(minutes=minute)
    values: dict[str, object] = {
        "headline_id": headline_id,
        "entity_id": entity,
        "entity_name": entity.title(),
        "matched_text": entity.title(),
        "sentiment": sentiment,
        "confidence": 0.9,
        "negative_probability": 0.8 if sentiment == "negative" else 0.1,
        "model_version": "ent-1",
        "method": "entity_model",
        "published_at": published,
        "classified_at": published + timedelta(seconds=1),
    }
    values.update(kw)
    return EntityRow(**values)  # type: ignore[arg-type]


def test_entity_views_have_the_documented_columns(database_url: str) -> None:
    engine = create_engine(database_url)
    for view, columns in VIEW_COLUMNS.items():
        assert [c["name"] for c in inspect(engine).get_columns(view)] == columns
    engine.dispose()


def test_entity_rows_are_idempotent_and_read_through_the_views(database_url: str) -> None:
    engine = make_engine(database_url)
    pairs = [
        make_pair(i, topic="Earnings", sentiment="negative", minute=m)
        for i, m in enumerate((1, 2, 7))
    ]
    rows = [
        entity_row(pairs[0][0].id, "tata", "positive", 1),
        entity_row(pairs[0][0].id, "jsw", "negative", 1),
        entity_row(pairs[1][0].id, "jsw", "negative", 2),
        entity_row(pairs[2][0].id, "jsw", "neutral", 7, method="headline", model_version="m1"),
    ]
    with session_scope(engine) as session:
        store_classified(session, [h for h, _ in pairs], [c for _, c in pairs])
        assert store_entities(session, rows + rows[:1]) == 4
    with session_scope(engine) as session:  # a replayed batch
        assert store_entities(session, rows) == 0
    # A newer verdict on the same (headline, entity) replaces the old one in the views.
    newer = entity_row(
        pairs[1][0].id,
        "jsw",
        "positive",
        2,
        model_version="ent-2",
        classified_at=T0 + timedelta(hours=1),
    )
    with session_scope(engine) as session:
        assert store_entities(session, [newer]) == 1
    with engine.connect() as conn:
        buckets = conn.execute(
            text(
                "SELECT bucket, entity_id, entity_name, headlines, negative, neutral, positive "
                "FROM v_entity_sentiment_5m ORDER BY bucket, entity_id"
            )
        ).all()
        assert buckets == [
            (T0, "jsw", "Jsw", 2, 1, 0, 1),
            (T0, "tata", "Tata", 1, 0, 0, 1),
            (T0 + timedelta(minutes=5), "jsw", "Jsw", 1, 0, 1, 0),
        ]
        one = conn.execute(
            text(
                "SELECT title, sentiment, method, model_version FROM v_entity_headlines "
                "WHERE id = :id AND entity_id = 'jsw'"
            ),
            {"id": pairs[1][0].id},
        ).one()
        assert tuple(one) == ("headline 1", "positive", "entity_model", "ent-2")
    engine.dispose()


def test_readonly_role_reads_the_entity_views_only(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ent_reader') "
                "THEN CREATE ROLE ent_reader LOGIN IN ROLE tapewatch_readonly; END IF; END $$"
            )
        )
    engine.dispose()
    dsn = engine.url.set(username="ent_reader").render_as_string(hide_password=False)
    conn = psycopg2.connect(dsn.replace("postgresql+psycopg2", "postgresql"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM v_entity_headlines")
            cur.execute("SELECT count(*) FROM v_entity_sentiment_5m")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT count(*) FROM headline_entities")
    finally:
        conn.close()
