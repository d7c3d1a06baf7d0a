"""The active model against a real PostgreSQL: a second version's classifications never change
what v_headlines, v_topic_sentiment_5m (the rollup) and the alert windows return until it is
activated; activation and rollback switch all three at once, are recorded, and keep the rollup
equal to grouping the views."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg2
import pytest
from sqlalchemy import Engine, make_url, text

from alerts.config import AlertsConfig
from alerts.windows import Bounds, window_counts
from storage import make_engine, session_scope
from storage import model_versions as mv
from storage.repository import store_classified
from tests.test_storage import T0, make_pair
from tests.test_storage_rollups import FIVE_MIN, PLAIN, _rounded

HEADLINES = text("SELECT id, topic, sentiment, model_version FROM v_headlines ORDER BY id")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def seed_two_models(engine: Engine) -> None:
    """60 headlines judged by m1 (Earnings, 1 in 3 negative); m2 re-judges the first 40 as
    negative Markets, and alone judges 10 more."""
    pairs = [
        make_pair(n, topic="Earnings", sentiment="negative" if n % 3 == 0 else "neutral", minute=n)
        for n in range(60)
    ]
    shadow = [
        make_pair(n, topic="Markets", sentiment="negative", minute=n, model="m2", p_neg=0.9)
        for n in range(40)
    ]
    only_shadow = [
        make_pair(n, topic="Markets", sentiment="negative", minute=n, model="m2", p_neg=0.9)
        for n in range(60, 70)
    ]
    with session_scope(engine) as s:
        store_classified(s, [h for h, _ in pairs], [c for _, c in pairs])
    assert mv.register(engine, "m1", None, activate_if_none=True) is True
    assert mv.register(engine, "m2", None, activate_if_none=True) is False  # m1 stays active
    # Classified later than m1's rows: under the old "newest wins" rule they would show.
    later = [
        c.model_copy(update={"classified_at": c.classified_at + timedelta(hours=1)})
        for _, c in shadow + only_shadow
    ]
    with session_scope(engine) as s:
        store_classified(s, [h for h, _ in only_shadow], later)


def state(engine: Engine) -> tuple[list, list, dict]:
    config = AlertsConfig(baseline_seconds=3600)
    bounds = Bounds.at(T0 + timedelta(minutes=75), config)
    with session_scope(engine) as s:
        heads = [tuple(r) for r in s.execute(HEADLINES)]
        five = _rounded(s.execute(FIVE_MIN).all())
        plain = _rounded(s.execute(PLAIN, {"grain": 300}).all())
        assert five == plain, "the rollup drifted from the views"
        counts = {t: (w.long.total, w.long.negative) for t, w in window_counts(s, bounds).items()}
    return heads, five, counts


def test_a_shadow_version_never_shows_until_activated_and_rollback_restores(
    engine: Engine,
) -> None:
    seed_two_models(engine)
    heads, five, counts = state(engine)
    by_id = {h[0]: h for h in heads}
    assert {h[3] for h in heads[:60]} == {"m1"}, "m1's verdicts show for what m1 judged"
    assert {h[3] for h in heads[60:]} == {"m2"}, "the fallback: what m1 has not judged"
    assert by_id[f"{0:032x}"][1:3] == ("Earnings", "negative")
    assert sum(r[2] for r in five if r[1] == "Earnings") == 60
    assert sum(r[2] for r in five if r[1] == "Markets") == 10

    done = mv.activate(engine, "m2", reason="test")
    assert (done.version, done.previous) == ("m2", "m1")
    heads2, five2, counts2 = state(engine)
    assert [h[3] for h in heads2].count("m2") == 50
    assert sum(r[2] for r in five2 if r[1] == "Markets") == 50
    assert sum(r[2] for r in five2 if r[1] == "Earnings") == 20
    assert counts2 != counts

    assert mv.previous_version(engine) == "m1"
    mv.activate(engine, mv.previous_version(engine), reason="rollback")
    assert state(engine) == (heads, five, counts)
    audit = [(a.version, a.previous_version) for a in mv.activations(engine)]
    assert audit[:3] == [("m1", "m2"), ("m2", "m1"), ("m1", None)]


def test_inserts_after_activation_count_under_the_new_version(engine: Engine) -> None:
    seed_two_models(engine)
    mv.activate(engine, "m2")
    # m1 now judges a headline only m2 had: m2 is active, so the rollup must not move.
    late = [make_pair(65, topic="Earnings", sentiment="neutral", minute=65)]
    before = state(engine)
    with session_scope(engine) as s:
        store_classified(s, [h for h, _ in late], [c for _, c in late])
    assert state(engine) == before


def test_exactly_one_version_is_active(engine: Engine) -> None:
    seed_two_models(engine)
    with pytest.raises(Exception, match="uq_model_versions_active"), session_scope(engine) as s:
        s.execute(text("UPDATE model_versions SET active = true"))
    with pytest.raises(mv.ModelVersionError):
        mv.activate(engine, "nope")
    [active] = [v for v in mv.list_versions(engine) if v.active]
    assert (active.version, active.classifications) == ("m1", 60)


def test_the_feedback_role_can_insert_feedback_and_nothing_else(
    engine: Engine, database_url: str
) -> None:
    seed_two_models(engine)

    url = make_url(database_url).set(username="tapewatch_web_feedback", drivername="postgresql")
    conn = psycopg2.connect(url.render_as_string(hide_password=False))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO headline_feedback (headline_id, analyst, sentiment, model_version) "
            "VALUES (%s, 'ana', 'positive', 'm1')",
            (f"{1:032x}",),
        )
        for statement in (
            "SELECT * FROM headline_feedback",
            "SELECT * FROM headlines",
            "SELECT * FROM v_headlines",
            "UPDATE headline_feedback SET analyst = 'x'",
            "DELETE FROM alert_feedback",
            "INSERT INTO classifications (headline_id) VALUES ('x')",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(statement)
    conn.close()
