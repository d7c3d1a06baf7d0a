"""Migration 0006: ``v_classified_headlines`` holds exactly the classified rows of
``v_headlines`` and ``v_headline_search`` all of them (the same counted classification per
headline) through re-classifications by a newer model, late verdicts and a switch of the active
model version; the stored search vector answers like ``to_tsvector``; the read-only role can
read both views."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import create_engine, text

from storage import make_engine, session_scope
from storage.model_versions import activate, register
from storage.repository import store_classified
from tests.test_storage import make_pair
from web.config import WebConfig
from web.db import readonly_url

COLUMNS = "id, published_at, topic, sentiment, model_version, classified_at, title, tickers"
PLAIN = text(f"SELECT {COLUMNS} FROM v_headlines WHERE topic IS NOT NULL ORDER BY id")
DRIVEN = text(f"SELECT {COLUMNS} FROM v_classified_headlines ORDER BY id")
SEARCH = text(f"SELECT {COLUMNS} FROM v_headline_search WHERE topic IS NOT NULL ORDER BY id")


def test_the_classification_driven_view_equals_v_headlines(database_url: str) -> None:
    rng = random.Random(6)
    topics, sentiments = ["Earnings", "Energy | Oil", "Macro"], ["negative", "neutral", "positive"]
    engine = make_engine(database_url)
    pairs = [
        make_pair(i, topic=rng.choice(topics), sentiment=rng.choice(sentiments), minute=i % 300)
        for i in range(300)
    ]
    with session_scope(engine) as session:
        store_classified(session, [h for h, _ in pairs], [c for _, c in pairs[:280]])
    # A newer model re-classifies a third, some with verdicts timed before the stored ones.
    newer = [
        c.model_copy(
            update={
                "model_version": "m2",
                "topic": rng.choice(topics),
                "sentiment": rng.choice(sentiments),
                "classified_at": c.classified_at + timedelta(hours=rng.choice([1, -1])),
            }
        )
        for _h, c in pairs[:280:3]
    ]
    with session_scope(engine) as session:
        store_classified(session, [], newer)

    def both() -> tuple[list, list]:  # type: ignore[type-arg]
        with engine.connect() as conn:
            plain = conn.execute(PLAIN).all()
            assert conn.execute(SEARCH).all() == plain
            return plain, conn.execute(DRIVEN).all()

    plain, driven = both()
    assert len(plain) == 280 and driven == plain  # unclassified headlines are in neither
    assert {r.model_version for r in driven} == {"m1", "m2"}
    # With m1 active, its verdicts count again wherever it classified the headline.
    register(engine, "m1", None, activate_if_none=False)
    register(engine, "m2", None, activate_if_none=False)
    activate(engine, "m1")
    plain, driven = both()
    assert driven == plain and {r.model_version for r in driven} == {"m1"}
    activate(engine, "m2")
    plain, driven = both()
    assert driven == plain and {r.model_version for r in driven} == {"m1", "m2"}

    with engine.connect() as conn:
        stored, parsed = (
            conn.execute(
                text(
                    f"SELECT count(*) FROM headlines WHERE {vector} @@ "
                    "websearch_to_tsquery('english', '\"headline 17\" OR 29')"
                )
            ).scalar()
            for vector in ("title_tsv", "to_tsvector('english', title)")
        )
    assert stored == parsed == 2
    readonly = create_engine(readonly_url(WebConfig(), database_url))
    try:
        with readonly.connect() as conn:
            count = conn.execute(
                text("SELECT count(*) FROM v_classified_headlines WHERE topic = 'Macro'")
            ).scalar()
        assert count == sum(1 for r in plain if r.topic == "Macro")
    finally:
        readonly.dispose()
        engine.dispose()
