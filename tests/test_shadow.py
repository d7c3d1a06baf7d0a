"""A shadow classify worker against the real broker and PostgreSQL: beside the live worker it
stores every headline under its own version and publishes nothing, and what v_headlines,
v_topic_sentiment_5m and the alert windows return does not change until its version is
activated; activation switches them, rollback restores them."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from alerts.config import AlertsConfig
from alerts.windows import Bounds, window_counts
from storage import make_engine, session_scope
from storage import model_versions as mv
from tapewatch.local import LocalKafka, scratch_dir
from tests.conftest import BIN
from tests.test_classify_stage import Pipeline
from tests.test_storage_rollups import FIVE_MIN, PLAIN, _rounded

HEADLINES = text("SELECT id, topic, sentiment, model_version FROM v_headlines ORDER BY id")
VERSIONS = text("SELECT model_version, count(*) FROM classifications GROUP BY 1")


@pytest.fixture
def pipeline(kafka: LocalKafka, database_url: str, tiny_model_dir: Path) -> Iterator[Pipeline]:
    p = Pipeline(kafka, database_url, tiny_model_dir)
    yield p
    p.close()


def start_shadow(p: Pipeline, model_dir: Path) -> subprocess.Popen[bytes]:
    log = (Path(scratch_dir("worker-log-")) / "shadow.log").open("wb")
    proc = subprocess.Popen(
        [BIN, "worker", "classify", "--shadow", str(model_dir)],
        env=p.env,
        stdout=log,
        stderr=log,
        cwd=p.workdir,
    )
    proc.log_path = log.name  # type: ignore[attr-defined]
    p.workers.append(proc)
    return proc


def what_readers_see(engine: Engine) -> tuple[list, list, dict]:
    bounds = Bounds.at(datetime.now(UTC) + timedelta(minutes=1), AlertsConfig())
    with session_scope(engine) as s:
        heads = [tuple(r) for r in s.execute(HEADLINES)]
        five = _rounded(s.execute(FIVE_MIN).all())
        assert five == _rounded(s.execute(PLAIN, {"grain": 300}).all())
        windows = {t: (w.short, w.long, w.baseline) for t, w in window_counts(s, bounds).items()}
    return heads, five, windows


def test_shadow_rows_stay_out_of_dashboards_and_alerts_until_activated(
    pipeline: Pipeline, second_tiny_model_dir: Path
) -> None:
    engine = make_engine(pipeline.database_url)
    try:
        pipeline.start_worker("live")
        sent = pipeline.produce(range(120))
        assert len(pipeline.wait_rows(120)) == 120, pipeline.logs()
        with session_scope(engine) as s:
            [live] = [v for v, _ in s.execute(VERSIONS)]
        assert [v.version for v in mv.list_versions(engine) if v.active] == [live]
        before = what_readers_see(engine)
        assert {h[3] for h in before[0]} == {live}

        start_shadow(pipeline, second_tiny_model_dir)
        assert len(pipeline.wait_rows(240)) == 240, pipeline.logs()
        with session_scope(engine) as s:
            per_version = dict(s.execute(VERSIONS).all())
        [shadow] = set(per_version) - {live}
        assert per_version == {live: 120, shadow: 120}
        assert what_readers_see(engine) == before
        # The shadow published nothing: the classified topic holds the live verdicts only.
        published = pipeline.topic_values(pipeline.settings.topic_classified, 240, 5_000)
        assert len(published) == 120 and all(live.encode() in v for v in published)

        mv.activate(engine, shadow, reason="promote the shadow")
        after = what_readers_see(engine)
        assert {h[3] for h in after[0]} == {shadow}
        assert sorted(h[0] for h in after[0]) == sorted(sent)

        mv.activate(engine, mv.previous_version(engine), reason="roll back")
        assert what_readers_see(engine) == before
    finally:
        engine.dispose()
