"""``tapewatch reclassify`` against a real PostgreSQL: a seeded history re-read by a second tiny
model lands under that model's version, a second run writes nothing, a run SIGKILLed midway
resumes with no headline twice, a watchlist's entities are tagged under the re-read pass, and
none of it changes what the views show while the first model stays active."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from classify.predictor import Predictor
from classify.reclassify import Window, reclassify
from entities.matcher import Matcher
from entities.tagger import EntityTagger
from entities.watchlist import load_watchlist
from storage import make_engine, session_scope
from storage import model_versions as mv
from storage.entities import store_entities
from storage.repository import store_classified
from tests.conftest import BIN, cli_env
from tests.test_classify_entities import WATCHLIST, tiny_entity_model
from tests.test_storage import T0, make_pair

__all__ = ["tiny_entity_model"]  # the fixture, shared with the classify-stage entity test

PER_VERSION = text(
    "SELECT count(*), count(DISTINCT headline_id) FROM classifications WHERE model_version = :v"
)
NEW_VERSION = text("SELECT version FROM model_versions WHERE NOT active")
SHOWN = text("SELECT model_version, count(*) FROM v_headlines GROUP BY 1")


@pytest.fixture
def second_model(second_tiny_model_dir: Path) -> Path:
    return second_tiny_model_dir


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def seed_history(engine: Engine, n: int) -> None:
    pairs = [make_pair(i, topic="Earnings", sentiment="neutral", minute=i % 600) for i in range(n)]
    with session_scope(engine) as s:
        store_classified(s, [h for h, _ in pairs], [c for _, c in pairs])
    mv.register(engine, "m1", None, activate_if_none=True)


def counts(engine: Engine, version: str) -> tuple[int, int]:
    with session_scope(engine) as s:
        return tuple(s.execute(PER_VERSION, {"v": version}).one())


def shown(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return dict(s.execute(SHOWN).all())


def test_reclassify_stores_under_the_new_version_once(engine: Engine, second_model: Path) -> None:
    seed_history(engine, 300)
    predictor = Predictor.from_dir(second_model, device="cpu", workers=1)
    mv.register(engine, predictor.version, second_model, activate_if_none=True)
    window = Window(T0, T0.replace(year=T0.year + 1))
    pages = []
    done = reclassify(engine, predictor, window, page_size=64, on_page=pages.append)
    assert (done.pending, done.stored, done.pages) == (300, 300, 5)
    assert counts(engine, predictor.version) == (300, 300)
    assert shown(engine) == {"m1": 300}, "a version that is not active stays out of the views"

    again = reclassify(engine, predictor, window, page_size=64)
    assert (again.pending, again.stored) == (0, 0)

    mv.activate(engine, predictor.version)
    assert shown(engine) == {predictor.version: 300}


def test_a_killed_run_resumes_without_a_row_twice(
    engine: Engine, database_url: str, second_model: Path
) -> None:
    n = 3000
    seed_history(engine, n)
    env = cli_env(
        TAPEWATCH_DATABASE_URL=database_url, TAPEWATCH_DEVICE="cpu", TAPEWATCH_CPU_WORKERS="1"
    )
    args = [BIN, "reclassify", "--model", str(second_model), "--batch-size", "25"]
    # Capped at 400/s: the run takes several seconds, long enough to kill it midway.
    proc = subprocess.Popen([*args, "--max-rate", "400"], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    version = None
    while version is None or counts(engine, version)[0] < n // 4:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
        with session_scope(engine) as s:  # registered by the run when its model has loaded
            version = s.execute(NEW_VERSION).scalar()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored_at_kill = counts(engine, version)[0]
    assert n // 4 <= stored_at_kill < n

    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["model_version"] == version
    assert summary["stored"] == n - stored_at_kill
    assert counts(engine, version) == (n, n)
    assert shown(engine) == {"m1": n}


def test_reclassify_tags_watchlist_entities_under_the_new_pass(
    engine: Engine,
    database_url: str,
    second_model: Path,
    tiny_entity_model: Path,
    tmp_path: Path,
) -> None:
    """With a watchlist set, a re-read stores each headline's entities under the re-read pass
    (the entity model for a headline naming two), once; the entity views keep the active
    version's pass until the new version is activated."""
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(WATCHLIST)
    titles = ["Acme shares soar on profit beat", "Acme up, Apple down on the deal"]
    pairs = [make_pair(i, topic="Earnings", sentiment="neutral", minute=i) for i in range(60)]
    pairs = [
        (h.model_copy(update={"title": f"{titles[i % 2]} {i}", "tickers": []}),
         c.model_copy(update={"title": f"{titles[i % 2]} {i}"}))
        for i, (h, c) in enumerate(pairs)
    ]  # fmt: skip
    first_pass = EntityTagger(Matcher(load_watchlist(watchlist))).tag(
        [h for h, _ in pairs], [c for _, c in pairs]
    )  # no entity model: every entity gets its headline's sentiment, under m1
    with session_scope(engine) as s:
        store_classified(s, [h for h, _ in pairs], [c for _, c in pairs])
        assert store_entities(s, first_pass) == 90  # 30 name Acme, 30 Acme and Apple
    mv.register(engine, "m1", None, activate_if_none=True)
    env = cli_env(
        TAPEWATCH_DATABASE_URL=database_url,
        TAPEWATCH_DEVICE="cpu",
        TAPEWATCH_CPU_WORKERS="1",
        TAPEWATCH_ENTITIES__WATCHLIST_PATH=str(watchlist),
        TAPEWATCH_ENTITIES__MODEL_DIR=str(tiny_entity_model),
    )
    args = [BIN, "reclassify", "--model", str(second_model), "--batch-size", "16"]

    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])
    version = summary["model_version"]
    assert (summary["stored"], summary["entity_rows"]) == (60, 90)
    with session_scope(engine) as s:
        per_pass = dict(
            s.execute(
                text(
                    "SELECT headline_model_version || ' ' || method, count(*) "
                    "FROM headline_entities GROUP BY 1"
                )
            ).all()
        )
    assert per_pass == {
        "m1 headline": 90,
        f"{version} headline": 30,  # one entity: the headline's own verdict
        f"{version} entity_model": 60,  # two entities: each its own
    }
    assert shown_entities(engine) == {"headline": 90}

    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert json.loads(again.stdout.splitlines()[-1])["entity_rows"] == 0

    mv.activate(engine, version)
    assert shown_entities(engine) == {"headline": 30, "entity_model": 60}
    mv.activate(engine, "m1")  # and back
    assert shown_entities(engine) == {"headline": 90}


def shown_entities(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        rows = s.execute(text("SELECT method, count(*) FROM v_entity_headlines GROUP BY 1"))
        return {method: n for method, n in rows}
