"""headline_entities against a real PostgreSQL: idempotent writes, the per-entity views with the
topic views' column conventions, the active-version rule (migration 0008) and the read-only
role reading them."""

from __future__ import annotations

from datetime import timedelta

import psycopg2
import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from storage import make_engine, session_scope
from storage.entities import EntityRow, store_entities
from storage.migrate import downgrade, upgrade
from storage.model_versions import activate, register
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


def _counted(engine: Engine) -> dict[tuple[str, str], tuple[str, str]]:
    """(headline, entity) -> (sentiment, model version) as v_entity_headlines counts it."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, entity_id, sentiment, model_version FROM v_entity_headlines")
        ).all()
    return {(r.id, r.entity_id): (r.sentiment, r.model_version) for r in rows}


def _buckets(engine: Engine) -> list[tuple[str, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT entity_id, sum(headlines)::int, sum(negative)::int "
                "FROM v_entity_sentiment_5m GROUP BY entity_id ORDER BY entity_id"
            )
        ).all()
    return [tuple(r) for r in rows]


def test_a_shadow_versions_entity_rows_change_the_views_only_once_it_is_activated(
    database_url: str,
) -> None:
    """Migration 0008: per (headline, entity) the row of the active headline model's pass
    counts, the newest only where the active version has not classified the headline."""
    engine = make_engine(database_url)
    register(engine, "m1", None, activate_if_none=True)
    register(engine, "m2", None, activate_if_none=False)  # a shadow
    one, two, only_shadow = (
        make_pair(i, topic="Earnings", sentiment="negative", minute=i) for i in range(3)
    )
    later = {"classified_at": T0 + timedelta(hours=1)}
    active_rows = [
        # One entity: the headline's own sentiment from m1's pass.
        entity_row(one[0].id, "tata", "negative", 0, method="headline", model_version="m1"),
        # Two entities: the entity model's verdicts in m1's pass.
        entity_row(two[0].id, "tata", "negative", 1, headline_model_version="m1"),
        entity_row(two[0].id, "jsw", "negative", 1, headline_model_version="m1"),
    ]
    shadow_rows = [
        entity_row(
            one[0].id, "tata", "positive", 0, method="headline", model_version="m2", **later
        ),
        # The same entity model in the shadow pass: its own rows, no collision with m1's.
        entity_row(two[0].id, "tata", "positive", 1, headline_model_version="m2", **later),
        entity_row(two[0].id, "jsw", "positive", 1, headline_model_version="m2", **later),
        # A headline only the shadow read: its rows are all there is, so they count.
        entity_row(only_shadow[0].id, "jsw", "neutral", 2, method="headline", model_version="m2"),
    ]
    shadow_pair = make_pair(0, topic="Earnings", sentiment="positive", minute=0, model="m2")
    with session_scope(engine) as session:
        store_classified(session, [one[0], two[0]], [one[1], two[1]])
        store_entities(session, active_rows)
    before = _counted(engine)
    with session_scope(engine) as session:
        store_classified(session, [shadow_pair[0], only_shadow[0]], [shadow_pair[1]])
        assert store_entities(session, shadow_rows) == 4
    after_shadow = _counted(engine)
    shadow_key = (only_shadow[0].id, "jsw")
    assert after_shadow.pop(shadow_key) == ("neutral", "m2")
    assert (
        after_shadow
        == before
        == {
            (one[0].id, "tata"): ("negative", "m1"),
            (two[0].id, "tata"): ("negative", "ent-1"),
            (two[0].id, "jsw"): ("negative", "ent-1"),
        }
    )
    assert _buckets(engine) == [("jsw", 2, 1), ("tata", 2, 2)]

    activate(engine, "m2")
    assert _counted(engine) == {
        (one[0].id, "tata"): ("positive", "m2"),
        (two[0].id, "tata"): ("positive", "ent-1"),
        (two[0].id, "jsw"): ("positive", "ent-1"),
        shadow_key: ("neutral", "m2"),
    }
    assert _buckets(engine) == [("jsw", 2, 0), ("tata", 2, 0)]
    activate(engine, "m1")  # and back
    assert _counted(engine)[(two[0].id, "jsw")] == ("negative", "ent-1")
    engine.dispose()


def test_migration_0008_backfills_the_pass_version_and_downgrades_to_0007(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    pair = make_pair(0, topic="Earnings", sentiment="negative", minute=0)
    rows = [
        entity_row(pair[0].id, "tata", "negative", 0, headline_model_version="m1"),
        entity_row(pair[0].id, "tata", "positive", 0, headline_model_version="m2"),
        entity_row(pair[0].id, "jsw", "neutral", 0, method="headline", model_version="m1"),
    ]
    with session_scope(engine) as session:
        store_classified(session, [pair[0]], [pair[1]])
        store_entities(session, rows)
    downgrade(database_url, "0007")
    # 0007's key holds one row per (headline, entity, model version): the newest stays.
    with engine.connect() as conn:
        kept = conn.execute(
            text("SELECT entity_id, sentiment FROM headline_entities ORDER BY entity_id")
        ).all()
        assert [tuple(r) for r in kept] == [("jsw", "neutral"), ("tata", "positive")]
        assert "headline_model_version" not in {
            c["name"] for c in inspect(conn).get_columns("headline_entities")
        }
    engine.dispose()  # the old rows' columns were cached with the old table
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.connect() as conn:
        backfilled = conn.execute(
            text(
                "SELECT entity_id, method, headline_model_version FROM headline_entities "
                "ORDER BY entity_id"
            )
        ).all()
    # The entity-model row's pass: the classification written with the same classified_at
    # (pair[1], m1, at published + 1 s, as entity_row's default).
    assert [tuple(r) for r in backfilled] == [
        ("jsw", "headline", "m1"),
        ("tata", "entity_model", "m1"),
    ]
    engine.dispose()
