"""Hostile headlines through the whole pipeline into the browser: markup and ``javascript:``
links pushed to the ingest worker's HTTP endpoint, through Kafka, classified by the classify
worker (the tiny test model), stored in PostgreSQL, then shown by the dashboard in the real
browser as inert text: no element made of them, no script run, no ``javascript:`` link."""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg2
from playwright.sync_api import BrowserContext

from tapewatch.local import LocalKafka, scratch_dir
from tapewatch.local.proc import free_port, wait_until
from tests.conftest import BIN
from tests.test_classify_stage import Pipeline
from tests.test_web_browser import _shot, _until, _watch, browser_context  # noqa: F401
from tests.web_server import serve
from web.config import WebConfig
from web.context import WebContext
from web.db import readonly_url

# Ingest strips real tags from titles; markup sent entity-escaped survives as literal text,
# which is exactly what a careless page would turn back into elements.
HOSTILE = [
    {"title": "&lt;script&gt;window.__pwned = 1&lt;/script&gt; Crude slumps", "url": None},
    {
        "title": "Oil &lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt; falls",
        "url": "javascript:window.__pwned = 3",
    },
    {
        "title": "<script>window.__pwned = 4</script>Refiner cuts output",
        "url": "JaVaScRiPt:alert(1)",
    },
    {"title": "Miner &lt;a href=&quot;javascript:alert(1)&quot;&gt;click&lt;/a&gt; sinks"},
]


def _start_ingest(pipeline: Pipeline, push_port: int) -> subprocess.Popen[bytes]:
    log = (scratch_dir("ingest-log-") / "ingest.log").open("wb")
    env = pipeline.env | {
        "TAPEWATCH_INGEST__FEEDS": "[]",
        "TAPEWATCH_INGEST__REPLAY_PATH": "",
        "TAPEWATCH_INGEST__PUSH_PORT": str(push_port),
        "TAPEWATCH_INGEST__METRICS_PORT": str(free_port()),
    }
    proc = subprocess.Popen(
        [BIN, "worker", "ingest"], env=env, stdout=log, stderr=log, cwd=pipeline.workdir
    )
    proc.log_path = log.name  # type: ignore[attr-defined]
    return proc


def _stored(database_url: str, source: str) -> list[tuple[str, str | None, str | None]]:
    conn = psycopg2.connect(database_url.replace("postgresql+psycopg2", "postgresql"))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT title, url, topic FROM v_headlines WHERE source = %s AND topic IS NOT NULL",
                (source,),
            )
            return cur.fetchall()
    finally:
        conn.close()


def test_hostile_pushed_headlines_render_as_inert_text(
    kafka: LocalKafka,
    database_url: str,
    tiny_model_dir: Path,
    browser_context: BrowserContext,  # noqa: F811
    tmp_path: Path,
) -> None:
    pipeline = Pipeline(kafka, database_url, tiny_model_dir)
    source = f"hostile-{uuid.uuid4().hex[:6]}"
    push_port = free_port()
    ingest = _start_ingest(pipeline, push_port)
    try:
        pipeline.start_worker("classify")
        push = f"http://127.0.0.1:{push_port}"
        assert wait_until(lambda: _healthy(push), timeout=60), Path(ingest.log_path).read_text()  # type: ignore[attr-defined]
        now = datetime.now(UTC).isoformat()
        body = [{**h, "source": source, "published_at": now} for h in HOSTILE]
        answer = httpx.post(f"{push}/headlines", json=body, timeout=10)
        assert answer.status_code == 202, answer.text
        assert len(answer.json()["new"]) == len(HOSTILE)
        deadline = time.monotonic() + 120
        while len(rows := _stored(database_url, source)) < len(HOSTILE):
            assert time.monotonic() < deadline, pipeline.logs() + Path(ingest.log_path).read_text()  # type: ignore[attr-defined]
            time.sleep(0.5)
    finally:
        ingest.terminate()
        ingest.wait(timeout=30)
        pipeline.close()
    titles = {title for title, _url, _topic in rows}
    # What reached the database still carries markup and a script link as text (the test
    # would prove nothing if ingest had removed it all); ingest keeps only http(s) URLs as
    # links, so the javascript: ones arrive without a link.
    assert any("<script>" in t for t in titles) and any("<img" in t for t in titles)
    assert any('href="javascript:' in t for t in titles)
    assert not any((url or "").strip().lower().startswith("javascript") for _t, url, _ in rows)

    errors, outside = _watch(browser_context)
    config = WebConfig(refresh_seconds=1.0)
    ctx = WebContext(config=config, database_url=readonly_url(config, database_url))
    page = browser_context.new_page()
    with serve(ctx) as base:
        page.goto(f"{base}/headlines?source={source}")
        _until(page, f"document.querySelectorAll('#headlines tbody tr').length == {len(rows)}")
        shown = page.locator("#headlines .title").all_inner_texts()
        _shot(page, tmp_path, "hostile-headlines")
        assert sorted(shown) == sorted(titles)  # every title exactly as stored, as text
        assert page.locator("#headlines script, #headlines img, #headlines b").count() == 0
        assert (
            page.locator("#headlines a").evaluate_all(
                "links => links.map(a => a.protocol).filter(p => p !== 'http:' && p !== 'https:')"
            )
            == []
        )
        assert page.locator("a[href^='javascript' i]").count() == 0
        time.sleep(2)  # two refreshes: a re-render must stay as inert as the first
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#headlines .title").count() == len(rows)
    assert errors == []
    assert outside == []


def _healthy(push: str) -> bool:
    try:
        return httpx.get(f"{push}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
