"""The dashboard's entity pages and API against a real PostgreSQL with seeded watchlist
entities, served by a real uvicorn on loopback, read through the read-only login role: the
Entities list, one entity's chart, headlines and alerts, the Headlines entity filter and the
per-entity verdicts on every row, and the OpenAPI schema naming the endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from tests.web_entity_seed import BURST, EVIL_NAME, MIXED_TITLE, EntitySeed, seed_entities
from tests.web_server import get, serve
from web.config import WebConfig
from web.context import WebContext
from web.db import readonly_url
from web.security import CSP


@pytest.fixture
def seeded(database_url: str) -> EntitySeed:
    return seed_entities(database_url)


@pytest.fixture
def base(database_url: str, seeded: EntitySeed) -> Iterator[str]:
    config = WebConfig()
    ctx = WebContext(config=config, database_url=readonly_url(config, database_url))
    with serve(ctx) as url:
        yield url


def test_entities_list_compares_now_with_the_baseline(base: str, seeded: EntitySeed) -> None:
    data = get(base, "/api/v1/entities").json()
    assert data["range"] == "7d" and data["now_window_s"] == 3600
    assert data["baseline_s"] == 14 * 86400 and data["query_ms"] >= 0
    rows = {r["entity_id"]: r for r in data["rows"]}
    assert set(rows) == {"acme", "zorblax", "evil-co"}
    acme = rows["acme"]
    # The alerting entity comes first; the burst (and the mixed headline, positive for Acme)
    # is "now", the week of a quarter negative its baseline.
    assert data["rows"][0]["entity_id"] == "acme"
    assert acme["entity_name"] == "Acme Corp"
    assert acme["now_total"] == BURST + 1
    assert acme["now_share"] == round(BURST / (BURST + 1), 4)
    assert acme["baseline_total"] == 56 and acme["baseline_share"] == 0.25
    assert acme["alert"] == {
        "id": seeded.firing_alert_id,
        "state": "firing",
        "since": acme["alert"]["since"],
    }
    assert acme["volume"] == seeded.headlines["acme"]  # all within the week
    assert rows["zorblax"]["alert"] is None and rows["zorblax"]["now_total"] == 1
    assert rows["evil-co"]["entity_name"] == EVIL_NAME  # JSON carries it as it is
    short = {r["entity_id"]: r for r in get(base, "/api/v1/entities?range=24h").json()["rows"]}
    assert short["acme"]["volume"] < acme["volume"]
    assert get(base, "/api/v1/entities?range=1y").status_code == 422


def test_one_entity_chart_headlines_and_alerts(base: str, seeded: EntitySeed) -> None:
    data = get(base, "/api/v1/entities/acme?range=7d").json()
    entity = data["entity"]
    assert entity["id"] == "acme" and entity["name"] == "Acme Corp"
    assert entity["headlines"] == seeded.headlines["acme"]
    chart = data["chart"]
    assert chart["grain_s"] == 6 * 3600 and len(chart["buckets"]) in (29, 30)
    assert len(chart["share"]) == len(chart["headlines"]) == len(chart["buckets"])
    assert sum(chart["headlines"]) == seeded.headlines["acme"]
    # The burst (the last 50 minutes) can straddle a 6-hour bucket boundary, leaving one of
    # its headlines beside the positive mixed one in the last bucket: the bucket that holds
    # most of it is one of the last two, and that one is mostly negative.
    assert max(chart["share"][-2:]) > 0.5
    last_two = zip(chart["share"][-2:], chart["headlines"][-2:], strict=True)
    assert sum(round(share * n) for share, n in last_two) >= BURST
    hourly = get(base, "/api/v1/entities/acme?range=24h").json()["chart"]
    assert hourly["grain_s"] == 3600 and len(hourly["buckets"]) in (25, 26)

    headlines = data["headlines"]
    assert len(headlines) == 50
    published = [h["published_at"] for h in headlines]
    assert published == sorted(published, reverse=True)
    mixed = next(h for h in headlines if h["id"] == seeded.mixed_id)
    # The entity's own verdict beside the headline's: they disagree on the mixed headline.
    assert (mixed["sentiment"], mixed["method"], mixed["model_version"]) == (
        "positive",
        "entity_model",
        "ent-seed-1",
    )
    assert (mixed["headline_sentiment"], mixed["headline_confidence"]) == ("neutral", 0.85)
    assert mixed["topic"] == "Earnings" and mixed["title"] == MIXED_TITLE
    older = get(
        base, f"/api/v1/entities/acme?before={headlines[-1]['published_at'].replace('+', '%2B')}"
    ).json()
    assert len(older["headlines"]) == seeded.headlines["acme"] - 50
    assert [a["id"] for a in data["alerts"]] == [
        seeded.firing_alert_id,
        seeded.resolved_alert_id,
    ]
    assert data["alerts"][0]["short_rate"] == 1.0 and data["alerts"][1]["fired"]

    zorblax = get(base, "/api/v1/entities/zorblax").json()
    assert zorblax["alerts"] == [] and zorblax["entity"]["headlines"] == 29
    mixed_z = next(h for h in zorblax["headlines"] if h["id"] == seeded.mixed_id)
    assert (mixed_z["sentiment"], mixed_z["sentiment_confidence"]) == ("negative", 0.93)
    missing = get(base, "/api/v1/entities/nobody")
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
    assert get(base, "/api/v1/entities/" + "x" * 65).status_code == 422


def test_headlines_filter_by_entity_and_carry_each_rows_entities(
    base: str, seeded: EntitySeed
) -> None:
    data = get(base, "/api/v1/headlines?entity=zorblax&limit=200").json()
    assert data["count"] == seeded.headlines["zorblax"]
    assert all(any(e["id"] == "zorblax" for e in h["entities"]) for h in data["items"]), (
        "every row names the entity it was filtered by"
    )
    mixed = next(h for h in data["items"] if h["id"] == seeded.mixed_id)
    assert {e["id"]: (e["name"], e["sentiment"], e["method"]) for e in mixed["entities"]} == {
        "acme": ("Acme Corp", "positive", "entity_model"),
        "zorblax": ("Zorblax Industries", "negative", "entity_model"),
    }
    assert mixed["sentiment"] == "neutral"  # the headline's own, unchanged
    # With the other filters, and on the live poll's path.
    negative = get(base, "/api/v1/headlines?entity=acme&sentiment=negative&limit=200").json()
    assert negative["count"] == 14 + BURST  # every fourth of 56, and the burst
    topic = get(base, "/api/v1/headlines?entity=acme&topic=Earnings&limit=5").json()
    assert topic["count"] == 5 and all(h["entities"] for h in topic["items"])
    since = (seeded.now - timedelta(hours=1)).isoformat().replace("+", "%2B")
    live = get(base, f"/api/v1/headlines?entity=acme&after={since}").json()
    assert live["count"] == BURST + 1
    assert get(base, "/api/v1/headlines?entity=nobody").json()["count"] == 0
    # Headlines naming no entity carry an empty list.
    plain = get(base, "/api/v1/headlines?limit=200").json()["items"]
    assert all(isinstance(h["entities"], list) for h in plain)


def test_entity_pages_are_frames_with_the_nav_and_the_csp(base: str) -> None:
    for path in ("/entities", "/entities/acme", "/entities/%22%3E%3Cscript%3E"):
        page = get(base, path)
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CSP
        assert '<a href="/entities" class="active">Entities</a>' in page.text
        assert "<script>" not in page.text  # the id went into an attribute, escaped
    hostile = get(base, "/entities/%22%3E%3Cscript%3E").text
    assert 'data-entity-id="&#34;&gt;&lt;script&gt;"' in hostile
    schema = get(base, "/api/v1/openapi.json").json()
    assert "/api/v1/entities" in schema["paths"]
    assert "/api/v1/entities/{entity_id}" in schema["paths"]
    params = {p["name"] for p in schema["paths"]["/api/v1/headlines"]["get"]["parameters"]}
    assert "entity" in params


def test_entity_chart_buckets_are_the_grain_apart(base: str) -> None:
    chart = get(base, "/api/v1/entities/acme?range=30d").json()["chart"]
    times = [datetime.fromisoformat(b) for b in chart["buckets"]]
    assert chart["grain_s"] == 86400
    assert all(b - a == timedelta(days=1) for a, b in pairwise(times))


def test_an_entity_alerts_chart_is_the_entitys_negative_share(
    base: str, seeded: EntitySeed
) -> None:
    data = get(base, f"/api/v1/alerts/{seeded.firing_alert_id}").json()
    assert data["alert"]["evidence"]["entity"]["id"] == "acme"
    chart = data["chart"]
    # Around the burst: the alert's topic label has no rollup rows, the entity has headlines.
    assert sum(chart["headlines"]) >= 4
    assert max(s for s in chart["share"] if s is not None) == 1.0
