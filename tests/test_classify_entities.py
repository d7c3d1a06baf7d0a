"""The classify worker with a watchlist, as a real subprocess against the real broker and
PostgreSQL: headlines naming watchlist entities get one headline_entities row per entity in
the batch's transaction (one entity: the headline's own sentiment; several: the entity model),
others get none, and a replayed stream adds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from tapewatch.local import LocalKafka
from tests.test_classify_stage import Pipeline

WATCHLIST = """\
entities:
  - id: acme
    name: Acme Corp
    tickers: [ACME]
    case_sensitive_aliases: [Acme]
  - id: apple
    name: Apple Inc.
    tickers: [AAPL]
    case_sensitive_aliases: [Apple]
"""
TITLES = {
    0: "Acme shares soar on profit beat",  # one entity
    1: "Acme up, Apple down on the deal",  # two entities
    2: "fed hike rates central bank",  # none
    3: "$AAPL shares plunge on loss warning",  # a cashtag
    4: "apple harvest and acme of the market",  # lower-case common words: none
}


@pytest.fixture(scope="module")
def tiny_entity_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from entities.model import from_headline_model, save_entity_model

    model, tokenizer = from_headline_model(tiny_model_dir, max_length=32)
    out = tmp_path_factory.mktemp("entity-model")
    save_entity_model(model, tokenizer, out)
    return out


@pytest.fixture
def pipeline(
    kafka: LocalKafka,
    database_url: str,
    tiny_model_dir: Path,
    tiny_entity_model: Path,
    tmp_path: Path,
) -> Iterator[Pipeline]:
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(WATCHLIST)
    p = Pipeline(kafka, database_url, tiny_model_dir)
    p.env |= {
        "TAPEWATCH_ENTITIES__WATCHLIST_PATH": str(watchlist),
        "TAPEWATCH_ENTITIES__MODEL_DIR": str(tiny_entity_model),
    }
    yield p
    p.close()


def entity_rows(database_url: str) -> list[tuple[str, ...]]:
    conn = psycopg2.connect(database_url.replace("postgresql+psycopg2", "postgresql"))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT e.headline_id, e.entity_id, e.matched_text, e.method, "
                "e.model_version = c.model_version, e.sentiment = c.sentiment "
                "FROM headline_entities e JOIN classifications c USING (headline_id) "
                "ORDER BY e.headline_id, e.entity_id"
            )
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def test_watchlist_entities_are_stored_with_the_classifications(pipeline: Pipeline) -> None:
    ids = {}
    for i, title in TITLES.items():
        ids[i] = pipeline.produce(range(i, i + 1), title=title)[0]
    pipeline.start_worker("w1")
    assert len(pipeline.wait_rows(len(TITLES))) == len(TITLES), pipeline.logs()

    rows = entity_rows(pipeline.database_url)
    # (headline, entity, matched text, method, same version as the headline's, same sentiment)
    assert [r[:5] for r in rows] == sorted(
        [
            (ids[0], "acme", "Acme", "headline", True),
            (ids[1], "acme", "Acme", "entity_model", False),
            (ids[1], "apple", "Apple", "entity_model", False),
            (ids[3], "apple", "$AAPL", "headline", True),
        ]
    ), pipeline.logs()
    assert all(r[5] for r in rows if r[3] == "headline")
    conn = psycopg2.connect(pipeline.database_url.replace("postgresql+psycopg2", "postgresql"))
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT model_version FROM headline_entities WHERE method = 'entity_model'"
        )
        [(version,)] = cur.fetchall()
        assert version.startswith("ent-")
        cur.execute("SELECT entity_id, headlines FROM v_entity_sentiment_5m ORDER BY entity_id")
        assert cur.fetchall() == [("acme", 2), ("apple", 2)]
    conn.close()

    # The same headlines again (a re-delivery, a replay): nothing is added.
    for i, title in TITLES.items():
        pipeline.produce(range(i, i + 1), title=title)
    pipeline.produce(range(100, 101), title="fed hike rates")  # a marker that must arrive
    assert len(pipeline.wait_rows(len(TITLES) + 1)) == len(TITLES) + 1
    assert entity_rows(pipeline.database_url) == rows
