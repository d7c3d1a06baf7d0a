"""The dashboard in a real browser: the distribution's Chromium driven by Playwright, against a
real PostgreSQL with seeded data and a writer that keeps storing new headlines (through
``store_classified``, so the rollup trigger runs) while the pages are open.

Every page loads and draws its charts with data, the headline list grows without a reload,
hostile titles and links stay text, an analyst's verdict on an alert and corrections of a
headline land in the feedback tables (and a refused one shows the server's reason), nothing
else logs a console error and no request leaves loopback. Screenshots of every page are saved
in the test's temporary directory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright
from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from storage import make_engine, session_scope
from storage.repository import store_classified
from tapewatch import worker_states
from tests.web_seed import EVIL_TITLE, Seeded, pair, seed
from tests.web_server import Writer, serve
from web.config import WebConfig
from web.context import WebContext
from web.db import readonly_url
from web.security import is_loopback

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000


def _live_headline(session: Session, n: int) -> None:
    h, c = pair(
        10_000_000 + n,
        topic="Macro",
        sentiment="neutral",
        at=datetime.now(UTC),
        title=f"Live headline {n}: Quorvane Bank holds rates",
    )
    store_classified(session, [h], [c])


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[BrowserContext]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: run `make test`, whose set-up installs it")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile per run
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


def _watch(context: BrowserContext) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    outside: list[str] = []

    def on_request(request) -> None:  # type: ignore[no-untyped-def]
        host = urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:", "about:")):
            return
        if host is None or not is_loopback(host):
            outside.append(request.url)

    context.on("request", on_request)
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    context.on("weberror", lambda e: errors.append(str(e.error)))
    return errors, outside


def _shot(page: Page, out: Path, name: str) -> None:
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def _until(page: Page, condition: str, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    """Wait until the JavaScript expression ``condition`` holds in the page. Polled from here:
    Playwright's in-page polling evaluates strings, which the page's CSP forbids."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(f"() => Boolean({condition})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition} on {page.url}")
        time.sleep(0.2)


def _drawn(page: Page, selector: str) -> int:
    page.wait_for_selector(f"{selector} canvas", timeout=TIMEOUT_MS)
    _until(page, f"Number(document.querySelector('{selector}').dataset.drawn || 0) > 0")
    return int(page.eval_on_selector(selector, "e => e.dataset.drawn"))


VERDICTS = text(
    "SELECT f.alert_id, f.analyst, f.verdict, f.comment, f.model_version FROM alert_feedback f "
    "ORDER BY f.id"
)
CORRECTIONS = text(
    "SELECT headline_id, analyst, shown_sentiment, sentiment, topic, model_version "
    "FROM headline_feedback ORDER BY id"
)
SHOWN_VERSION = text("SELECT model_version FROM v_headlines WHERE id = :headline_id")


def _feedback(database_url: str, query: TextClause, **params: object) -> list[tuple]:
    """What the feedback tables hold, read as the main user (the app's roles cannot)."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with session_scope(engine) as session:
            return [tuple(r) for r in session.execute(query, params)]
    finally:
        engine.dispose()


def test_every_page_in_a_real_browser(
    database_url: str, browser_context: BrowserContext, tmp_path: Path
) -> None:
    seeded: Seeded = seed(database_url)
    config = WebConfig(refresh_seconds=1.0)
    # What `tapewatch up` writes as it supervises: one worker in a crash loop, one running.
    states = worker_states.path_in(tmp_path)
    ctx = WebContext(
        config=config, database_url=readonly_url(config, database_url), states_path=states
    )
    supervised = [
        worker_states.WorkerState("ingest", "running", "running (pid 4242)", 4242, 0, 80.0),
        worker_states.WorkerState(
            "classify", "restarting", "restarting in 8 s (crash loop)", None, 4, None
        ),
    ]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    errors, outside = _watch(browser_context)
    page = browser_context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    with serve(ctx) as base, Writer(database_url, _live_headline) as writer:
        # Overview: both charts have a point per bucket, the heatmap painted cells, a row per topic.
        page.goto(f"{base}/?range=24h")
        assert _drawn(page, "#share-chart") >= 288
        assert _drawn(page, "#volume-chart") >= 288
        _until(page, "Number(document.querySelector('#heatmap').dataset.cells) > 1000")
        _until(page, "document.querySelectorAll('#topics tbody tr').length >= 6")
        energy = page.locator("#topics tbody tr", has_text="Energy | Oil")
        assert energy.locator(".state.firing").inner_text() == "firing"
        _shot(page, shots, "overview")

        # Alerts and one alert: evidence, chart with marks, every delivery attempt.
        page.goto(f"{base}/alerts")
        _until(page, "document.querySelectorAll('#alerts tbody tr').length == 2")
        _shot(page, shots, "alerts")
        page.click(f"#alerts a[href$='/alerts/{seeded.alert_id}']")
        page.wait_for_url(f"{base}/alerts/{seeded.alert_id}")
        assert _drawn(page, "#alert-chart") > 30
        _until(page, "document.querySelectorAll('#deliveries tbody tr').length == 2")
        assert "retryable" in page.inner_text("#deliveries") and "503" in page.inner_text(
            "#deliveries"
        )
        evidence = page.locator("#evidence-headlines li").first
        assert evidence.locator("span").first.inner_text() == EVIL_TITLE  # text, not a link
        # The analyst's verdict: refused in the page without a name, then recorded.
        page.click("#verdict-useful")
        _until(page, "document.querySelector('#verdict-status').textContent.includes('name')")
        assert "bad" in page.get_attribute("#verdict-status", "class")
        page.fill("#analyst", "Ana Lyst")
        page.fill("#verdict-comment", "one outlet's story, syndicated")
        page.click("#verdict-false-alarm")
        _until(page, "document.querySelector('#verdict-status').textContent.startsWith('recorded')")
        assert "ok" in page.get_attribute("#verdict-status", "class")
        assert page.input_value("#verdict-comment") == ""
        assert _feedback(database_url, VERDICTS) == [
            (seeded.alert_id, "Ana Lyst", "false_alarm", "one outlet's story, syndicated", None)
        ]
        _shot(page, shots, "alert")

        # Headlines: the hostile one is text; the list grows as the writer stores more.
        # Read before the page loads: rows written while it loads are in ``before`` already.
        written = writer.written
        page.goto(f"{base}/headlines")
        _until(page, "document.querySelectorAll('#headlines tbody tr').length >= 50")
        before = page.locator("#headlines tbody tr").count()
        _until(page, f"document.querySelectorAll('#headlines tbody tr').length >= {before + 3}")
        assert writer.written >= written + 3
        assert page.locator("#headlines tbody tr").first.inner_text().count("Live headline") == 1
        hostile = page.locator("#headlines .title", has_text="crashes")
        assert hostile.inner_text() == EVIL_TITLE
        assert hostile.evaluate("e => e.tagName") == "SPAN"  # javascript: never becomes a link
        assert page.locator("#headlines img, #headlines b, #headlines script").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        # Correcting a headline: the name typed on the alert page is remembered. A name the
        # endpoint refuses (over 200 characters) shows the server's reason; then it is recorded.
        assert page.input_value("#analyst") == "Ana Lyst"
        target = page.locator("#headlines tbody tr", has=page.locator(".title", has_text="crashes"))
        headline_id = target.get_attribute("data-id")
        status = target.locator(".feedback-status")
        choice = target.locator("select.fix-sentiment option").nth(1).get_attribute("value")
        target.locator("select.fix-sentiment").select_option(choice)
        page.fill("#analyst", "x" * 201)
        target.locator("button.send-sentiment").click()
        status.filter(has_text="not recorded").wait_for()
        assert "at most 200 characters" in status.inner_text()
        target.screenshot(path=str(shots / "headline-feedback-refused.png"))
        assert _feedback(database_url, CORRECTIONS) == []
        refused = [e for e in errors if "status of 422" in e]
        assert len(refused) == 1  # the browser logs the refused POST; nothing else may error
        errors.remove(refused[0])
        page.fill("#analyst", "Ana Lyst")
        target.locator("button.send-sentiment").click()
        status.filter(has_text=f"recorded: sentiment is {choice}").wait_for()
        topic = target.locator("select.fix-topic")
        topic.select_option("Legal | Regulation")
        target.locator("button.send-topic").click()
        status.filter(has_text="recorded: topic is Legal | Regulation").wait_for()
        shown = target.locator("td").nth(3).inner_text().split()[0]
        [(version,)] = _feedback(database_url, SHOWN_VERSION, headline_id=headline_id)
        assert _feedback(database_url, CORRECTIONS) == [
            (headline_id, "Ana Lyst", shown, choice, None, version),
            (headline_id, "Ana Lyst", shown, None, "Legal | Regulation", version),
        ]
        assert choice != shown and version
        target.screenshot(path=str(shots / "headline-feedback.png"))
        _shot(page, shots, "headlines")

        page.goto(f"{base}/headlines?q=zorblax")
        page.wait_for_selector("#headlines details.copies")
        assert "+2 syndicated copies" in page.inner_text("#headlines")

        # Pipeline: feeds and model from the database; the classification chart has minutes.
        worker_states.write(states, supervised)
        page.goto(f"{base}/pipeline")
        _until(page, "document.querySelectorAll('#feeds tbody tr').length == 2")
        classify = page.locator("#workers tbody tr", has_text="classify")
        assert classify.locator(".state").inner_text() == "restarting"
        assert classify.locator("td").nth(2).inner_text() == "4"
        _until(page, "document.querySelectorAll('#models tbody tr').length >= 1")
        assert _drawn(page, "#classify-chart") >= 1
        _shot(page, shots, "pipeline")

        page.goto(f"{base}/api")
        _until(page, "document.querySelectorAll('#endpoints section').length >= 5")
        _shot(page, shots, "api")

        assert page.evaluate("typeof window.__pwned") == "undefined"
    assert errors == []
    assert outside == []
    assert sorted(p.name for p in shots.iterdir()) == [
        "alert.png",
        "alerts.png",
        "api.png",
        "headline-feedback-refused.png",
        "headline-feedback.png",
        "headlines.png",
        "overview.png",
        "pipeline.png",
    ]
