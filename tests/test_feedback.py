"""Analyst feedback end to end against a real PostgreSQL and the served dashboard: corrections
and verdicts posted to the endpoints land in the feedback tables through the insert-only role,
bad ones are refused, `tapewatch feedback export` writes a training source that the training
loader reads, and the backtest reports the rule's precision from the verdicts."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from classify.labels import SENTIMENTS, TOPICS
from classify.training.data import load_source
from classify.training.sources import read_sources
from storage import make_engine, session_scope
from tests.conftest import BIN, cli_env
from tests.web_seed import Seeded, seed
from tests.web_server import serve
from web.config import WebConfig
from web.context import WebContext
from web.db import readonly_url


@pytest.fixture
def seeded(database_url: str) -> Seeded:
    return seed(database_url)


@pytest.fixture
def base(database_url: str, seeded: Seeded) -> Iterator[str]:
    config = WebConfig()
    ctx = WebContext(config=config, database_url=readonly_url(config, database_url))
    with serve(ctx) as url:
        yield url


def post(base: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/feedback/{path}", json=body, timeout=10)


def test_feedback_is_stored_exported_and_trainable(
    base: str, seeded: Seeded, database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    with session_scope(engine) as s:
        rows = s.execute(
            text(
                "SELECT id, title, topic, sentiment, model_version FROM v_headlines "
                "ORDER BY id LIMIT 3"
            )
        ).all()
    for row, sentiment in zip(rows, ("positive", "negative", None), strict=True):
        body = {
            "headline_id": row.id,
            "analyst": "ana",
            "model_version": row.model_version,
            "shown_topic": row.topic,
            "shown_sentiment": row.sentiment,
            "sentiment": sentiment,
            "topic": "Earnings" if sentiment is None else None,
        }
        assert post(base, "headline", body).status_code == 201
    # A second opinion on the first headline replaces the first one in the export.
    later = {"headline_id": rows[0].id, "analyst": "bo", "sentiment": "neutral"}
    assert post(base, "headline", later).status_code == 201
    verdict = {"alert_id": seeded.alert_id, "analyst": "ana", "verdict": "false_alarm"}
    assert post(base, "alert", verdict | {"comment": "one outlet"}).status_code == 201

    assert post(base, "headline", {"headline_id": rows[0].id, "analyst": "x"}).status_code == 422
    assert post(base, "headline", later | {"topic": "Gossip"}).status_code == 422
    assert post(base, "headline", later | {"headline_id": "nope"}).status_code == 404
    assert post(base, "alert", verdict | {"verdict": "meh"}).status_code == 422

    with session_scope(engine) as s:
        stored = s.execute(
            text("SELECT analyst, model_version, sentiment FROM headline_feedback ORDER BY id")
        ).all()
        assert [tuple(r) for r in stored][:1] == [("ana", rows[0].model_version, "positive")]
        assert s.execute(text("SELECT verdict FROM alert_feedback")).scalar() == "false_alarm"
    engine.dispose()

    env = cli_env(TAPEWATCH_DATABASE_URL=database_url)
    out = subprocess.run(
        [BIN, "feedback", "export", "--out", str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    sources = read_sources(Path(out.stdout.strip()))
    by_head = {s.head: s for s in sources}
    sentiment = load_source(tmp_path, by_head["sentiment"], "train")
    topic = load_source(tmp_path, by_head["topic"], "train")
    assert {e.text: SENTIMENTS[e.sentiment] for e in sentiment} == {
        rows[0].title: "neutral",  # bo's later correction wins over ana's
        rows[1].title: "negative",
    }
    assert [(e.text, TOPICS[e.topic]) for e in topic] == [(rows[2].title, "Earnings")]
    assert by_head["sentiment"].weight == 2.0


def test_with_password_logins_the_dashboard_reads_and_records_feedback(tmp_path: Path) -> None:
    """Where PostgreSQL asks the dashboard's two login roles for passwords (as in the Docker
    set-up), `tapewatch db upgrade` gives each its password from the settings and the served
    dashboard reads and records feedback with them; a wrong feedback password records nothing."""
    from pydantic import SecretStr

    from tapewatch.local import LocalPostgres, scratch_dir
    from tapewatch.local.proc import free_port

    cluster = LocalPostgres(data_dir=scratch_dir("tapewatch-pg-passwords-"), port=free_port())
    with cluster:
        hba = cluster.pgdata / "pg_hba.conf"
        strict = "".join(
            f"host all {role} 127.0.0.1/32 scram-sha-256\n"
            for role in ("tapewatch_web", "tapewatch_web_feedback")
        )
        hba.write_text(strict + hba.read_text())  # first match wins: these two before trust
        env = cli_env(
            TAPEWATCH_DATABASE_URL=cluster.url(),
            TAPEWATCH_WEB__READONLY_PASSWORD="read-only-secret",
            TAPEWATCH_WEB__FEEDBACK_PASSWORD="feedback-secret",
        )
        up = subprocess.run([BIN, "db", "upgrade"], env=env, capture_output=True, text=True)
        assert up.returncode == 0, up.stderr
        assert "password of tapewatch_web_feedback set" in up.stderr  # the console writes there
        assert "secret" not in up.stdout + up.stderr
        engine = make_engine(cluster.url(), pool_size=1)
        with session_scope(engine) as s:
            s.execute(text("SELECT pg_reload_conf()"))
        engine.dispose()
        seeded = seed(cluster.url(), hours=2)

        def served(feedback_password: str) -> WebContext:
            config = WebConfig(
                readonly_password=SecretStr("read-only-secret"),
                feedback_password=SecretStr(feedback_password),
            )
            return WebContext(config=config, database_url=readonly_url(config, cluster.url()))

        verdict = {"alert_id": seeded.alert_id, "analyst": "ana", "verdict": "useful"}
        with serve(served("feedback-secret")) as url:
            assert httpx.get(f"{url}/api/v1/alerts", timeout=10).status_code == 200
            assert post(url, "alert", verdict).status_code == 201
        with serve(served("wrong")) as url:
            refused = post(url, "alert", verdict)
            assert refused.status_code == 503
            assert "TAPEWATCH_WEB__FEEDBACK_PASSWORD" in refused.json()["detail"]
        engine = make_engine(cluster.url(), pool_size=1)
        with session_scope(engine) as s:
            assert s.execute(text("SELECT count(*) FROM alert_feedback")).scalar() == 1
        engine.dispose()
