"""The entity pages in a real browser (the distribution's Chromium driven by Playwright, as in
test_web_browser.py) against a real PostgreSQL with seeded watchlist entities and a writer
that keeps storing new headlines about one of them while the pages are open.

Entities lists every entity with its alert state and links to its page; the entity page
draws its charts, shows the entity's verdict beside the headline's and its alerts, and takes
new headlines without a reload; Headlines filtered by the entity shows each row's entities; a
watchlist name that is markup stays text; nothing logs a console error and no request leaves
loopback. Screenshots are saved in the test's temporary directory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import BrowserContext
from sqlalchemy.orm import Session

from storage.entities import store_entities
from storage.repository import store_classified
from tests.test_web_browser import TIMEOUT_MS, _drawn, _shot, _until, _watch, browser_context
from tests.web_entity_seed import EVIL_NAME, MIXED_TITLE, EntitySeed, _entity, _pair, seed_entities
from tests.web_server import Writer, serve
from web.config import WebConfig
from web.context import WebContext
from web.db import readonly_url

__all__ = ["browser_context"]  # the fixture, shared with the other browser test


def _zorblax_order(session: Session, n: int) -> None:
    h, c = _pair(5_000_000 + n, f"Live: Zorblax Industries ships order {n}", "positive",
                 datetime.now(UTC))  # fmt: skip
    store_classified(session, [h], [c])
    store_entities(
        session, [_entity(c, "zorblax", "Zorblax Industries", "Zorblax Industries", "positive")]
    )


def test_entity_pages_in_a_real_browser(
    database_url: str, browser_context: BrowserContext, tmp_path: Path
) -> None:
    seeded: EntitySeed = seed_entities(database_url)
    config = WebConfig(refresh_seconds=1.0)
    ctx = WebContext(config=config, database_url=readonly_url(config, database_url))
    shots = tmp_path / "screenshots"
    shots.mkdir()
    errors, outside = _watch(browser_context)
    page = browser_context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    with serve(ctx) as base, Writer(database_url, _zorblax_order) as writer:
        # Entities: a row per entity, the alerting one first, its alert linked.
        page.goto(f"{base}/entities")
        _until(page, "document.querySelectorAll('#entities tbody tr').length == 3")
        assert page.locator("header nav a.active").inner_text() == "Entities"
        first = page.locator("#entities tbody tr").first
        assert first.get_attribute("data-entity") == "acme"
        href = first.locator(".state.firing").get_attribute("href") or ""
        assert href.endswith(f"/alerts/{seeded.firing_alert_id}")
        assert "85.7%" in first.inner_text()  # 6 of the last hour's 7 negative
        evil = page.locator("#entities tbody tr[data-entity='evil-co'] a.entity-link")
        assert evil.inner_text() == EVIL_NAME  # markup in a watchlist name stays text
        assert page.evaluate("() => window.__pwned") is None
        _shot(page, shots, "entities")

        # One entity: both charts drawn, its verdict beside the headline's, its alerts.
        page.click("#entities a.entity-link[href$='/entities/acme']")
        page.wait_for_url(f"{base}/entities/acme")
        _until(page, "document.querySelector('main h1').textContent == 'Acme Corp'")
        assert _drawn(page, "#entity-share-chart") >= 29
        assert _drawn(page, "#entity-volume-chart") >= 29
        _until(page, "document.querySelectorAll('#entity-headlines tbody tr').length == 50")
        mixed = page.locator(f"#entity-headlines tr[data-id='{seeded.mixed_id}']")
        cells = mixed.locator("td").all_inner_texts()
        assert MIXED_TITLE in cells[1] and cells[2] == "Acme Corp"
        assert cells[3].startswith("positive 85.0%") and "entity model" in cells[3]
        assert cells[4] == "neutral 85.0%"
        assert "differs" in (mixed.get_attribute("class") or "")
        assert page.locator("#entity-alerts tbody tr").count() == 2
        assert page.locator("#summary .state.firing").inner_text() == "firing"
        _shot(page, shots, "entity-acme")

        # Its firing alert: the entity's negative share around it, a link back to the entity.
        page.click(f"#entity-alerts a[href$='/alerts/{seeded.firing_alert_id}']")
        page.wait_for_url(f"{base}/alerts/{seeded.firing_alert_id}")
        assert _drawn(page, "#alert-chart") > 10
        _until(page, "document.querySelector('#summary a.entity-link') !== null")
        assert page.locator("#summary a.entity-link").inner_text() == "Acme Corp: entity page"
        assert "towards the entity" in page.locator("#alert-chart").locator("xpath=..").inner_text()
        _until(page, "document.querySelector('#evidence-headlines').textContent.includes('Acme')")
        assert 'matched "Acme"' in page.inner_text("#evidence-headlines")
        _shot(page, shots, "entity-alert")
        page.click("#summary a.entity-link")
        page.wait_for_url(f"{base}/entities/acme")

        # Zorblax's page takes the writer's headlines without a reload.
        page.goto(f"{base}/entities/zorblax?range=24h")
        _until(page, "document.querySelector('main h1').textContent == 'Zorblax Industries'")
        assert _drawn(page, "#entity-share-chart") >= 25
        _until(page, "document.querySelector('#entity-headlines').textContent.includes('Live:')")
        seen = writer.written
        _until(page, f"document.querySelectorAll('#entity-headlines tr').length > 0 && "
                     f"document.querySelector('#entity-headlines').textContent"
                     f".includes('order {seen + 1}')")  # fmt: skip
        assert page.locator("#no-alerts").is_visible()
        _shot(page, shots, "entity-zorblax")

        # Headlines filtered by the entity: the filter filled in, every row names it.
        page.click("#all-headlines")
        page.wait_for_url(f"{base}/headlines?entity=zorblax")
        assert page.input_value("input[name=entity]") == "zorblax"
        _until(page, "document.querySelectorAll('#headlines tbody tr').length >= 29")
        rows = page.locator("#headlines tbody tr")
        for i in range(rows.count()):
            assert rows.nth(i).locator(".entity-chip[href$='/entities/zorblax']").count() == 1
        mixed_row = page.locator(f"#headlines tbody tr[data-id='{seeded.mixed_id}']")
        chips = mixed_row.locator(".entity-chip").all_inner_texts()
        assert chips == ["Acme Corp: positive 85.0%", "Zorblax Industries: negative 93.0%"]
        _shot(page, shots, "headlines-entity")
        mixed_row.screenshot(path=str(shots / "headlines-entity-row.png"))

    assert errors == [], errors
    assert outside == [], outside
    print(f"screenshots in {shots}")
