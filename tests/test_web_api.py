"""The dashboard's JSON API and pages against a real PostgreSQL with seeded data, served by a
real uvicorn on loopback, read through the read-only login role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from tests.web_seed import EVIL_TITLE, EVIL_URL, Seeded, seed
from tests.web_server import get, serve
from web.config import WebConfig
from web.context import WebContext
from web.db import NotReadOnlyError, check_read_only, make_readonly_engine, readonly_url
from web.security import CSP, UnsafeBindError, check_bind


@pytest.fixture
def seeded(database_url: str) -> Seeded:
    return seed(database_url)


@pytest.fixture
def ctx(database_url: str) -> WebContext:
    config = WebConfig()
    return WebContext(
        config=config, database_url=readonly_url(config, database_url), short_window_s=900
    )


@pytest.fixture
def base(ctx: WebContext, seeded: Seeded) -> Iterator[str]:
    with serve(ctx) as url:
        yield url


def test_overview_shares_and_volumes_come_from_the_rollups(base: str, seeded: Seeded) -> None:
    data = get(base, "/api/v1/overview?range=24h").json()
    assert data["grain_s"] == 300 and len(data["buckets"]) >= 288
    topics = {t["topic"]: t for t in data["topics"]}
    assert set(topics) == set(seeded.per_topic)
    energy = topics["Energy | Oil"]
    assert len(energy["share"]) == len(data["buckets"])
    rows = {r["topic"]: r for r in data["rows"]}
    # The burst: 80% negative in the last half hour against a 20% baseline. The seed's share
    # of the "now" window is 0.667; the window moves on while the seed is written (0.647 a
    # minute or more later), so the bound leaves room.
    assert rows["Energy | Oil"]["now_share"] > 0.55
    assert rows["Energy | Oil"]["baseline_share"] < 0.3
    assert rows["Energy | Oil"]["alert"]["state"] == "firing"
    assert rows["Earnings"]["alert"] is None
    assert rows["Earnings"]["now_share"] < 0.5
    for range_name, grain in (("1h", 60), ("6h", 300), ("7d", 3600), ("30d", 3600)):
        answer = get(base, f"/api/v1/overview?range={range_name}").json()
        assert answer["grain_s"] == grain
        assert sum(sum(t["headlines"]) for t in answer["topics"]) > 0
    total_7d = sum(
        sum(t["headlines"]) for t in get(base, "/api/v1/overview?range=7d").json()["topics"]
    )
    assert total_7d == seeded.headlines  # every seeded headline counted once
    assert get(base, "/api/v1/overview?range=2y").status_code == 422


def test_overview_arrays_built_in_sql_match_the_rollup_cell_by_cell(
    base: str, seeded: Seeded, database_url: str
) -> None:
    response = get(base, "/api/v1/overview?range=24h")
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()  # the spliced, PostgreSQL-encoded topics parse as one JSON answer
    assert data["query_ms"] >= 0 and data["range"] == "24h"
    grid = [datetime.fromisoformat(b) for b in data["buckets"]]
    engine = create_engine(database_url)
    with engine.connect() as conn:
        cells = {
            (r.topic, r.bucket): (r.headlines, r.negative)
            for r in conn.execute(
                text(
                    "SELECT topic, bucket, headlines, negative FROM topic_sentiment_rollup "
                    "WHERE grain_s = 300 AND bucket >= :first AND headlines > 0"
                ),
                {"first": grid[0]},
            )
        }
    engine.dispose()
    topics = data["topics"]
    volumes = [sum(t["headlines"]) for t in topics]
    assert volumes == sorted(volumes, reverse=True)  # busiest first
    empty = 0
    for t in topics:
        assert len(t["headlines"]) == len(t["negative"]) == len(t["share"]) == len(grid)
        for at, count, negative, share in zip(
            grid, t["headlines"], t["negative"], t["share"], strict=True
        ):
            want = cells.get((t["topic"], at))
            if want is None:
                empty += 1
                assert (count, negative, share) == (0, 0, None)
            else:
                assert (count, negative) == want
                # 4 places, the nearest to the exact share (PostgreSQL rounds ties to even)
                assert share == round(share, 4)
                assert abs(share - want[1] / want[0]) <= 0.00005 + 1e-12
    assert empty > 0  # the seed leaves some buckets empty: the nulls are exercised
    rows = {r["topic"]: r["volume"] for r in data["rows"]}
    assert all(rows[t["topic"]] == sum(t["headlines"]) for t in topics)


def test_alerts_filter_and_detail_with_evidence_chart_and_every_attempt(
    base: str, seeded: Seeded
) -> None:
    all_alerts = get(base, "/api/v1/alerts").json()["items"]
    assert [a["topic"] for a in all_alerts] == ["Energy | Oil", "Macro"]
    firing = get(base, "/api/v1/alerts?state=firing").json()["items"]
    assert [a["id"] for a in firing] == [seeded.alert_id]
    assert firing[0]["short_rate"] == pytest.approx(0.775)
    assert get(base, "/api/v1/alerts?topic=Macro").json()["items"][0]["state"] == "resolved"
    assert get(base, "/api/v1/alerts?state=bogus").status_code == 422

    detail = get(base, f"/api/v1/alerts/{seeded.alert_id}").json()
    assert detail["alert"]["evidence"]["short"]["p_value"] == pytest.approx(1.2e-9)
    chart = detail["chart"]
    assert chart["grain_s"] == 60 and len(chart["buckets"]) == len(chart["share"])
    shares = [s for s in chart["share"] if s is not None]
    assert max(shares) > 0.6 and min(shares) < 0.4  # the burst and the calm before it
    [notification] = detail["notifications"]
    assert notification["status"] == "delivered"
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in notification["history"]] == [
        (1, "retryable", 503),
        (2, "delivered", 200),
    ]
    assert get(base, "/api/v1/alerts/999999").status_code == 404


def test_headlines_filters_search_and_folded_copies(base: str, seeded: Seeded) -> None:
    page = get(base, "/api/v1/headlines?limit=20").json()
    times = [i["published_at"] for i in page["items"]]
    assert times == sorted(times, reverse=True)
    assert page["items"][0]["id"] == seeded.evil_id  # the newest
    first = page["items"][0]
    assert first["model_version"] == "seed-model-1" and first["topic_confidence"] == 0.91

    story = get(base, "/api/v1/headlines?q=zorblax").json()
    assert len(story["items"]) == 1  # three syndicated copies, one row: the newest
    assert story["items"][0]["cluster_id"] == seeded.cluster_id
    assert sorted(c["source"] for c in story["items"][0]["copies"]) == ["wire-b", "wire-c"]
    # Stemmed full-text search: "beat" finds "beats".
    assert get(base, "/api/v1/headlines?q=beat").json()["count"] == 3

    negative = get(base, "/api/v1/headlines?topic=Energy%20%7C%20Oil&sentiment=negative").json()
    assert negative["items"] and all(
        i["topic"] == "Energy | Oil" and i["sentiment"] == "negative" for i in negative["items"]
    )
    tagged = get(base, "/api/v1/headlines?ticker=zblx").json()["items"]
    assert len(tagged) == 1 and "ZBLX" in tagged[0]["tickers"]  # the folded story
    assert get(base, "/api/v1/headlines?source=wire-b").json()["count"] == 1

    since = (seeded.now - timedelta(minutes=10)).isoformat()
    recent = get(base, "/api/v1/headlines", params={"since": since, "limit": 200}).json()
    assert recent["items"] and all(i["published_at"] >= since for i in recent["items"])
    newest = page["items"][0]["published_at"]
    assert get(base, "/api/v1/headlines", params={"after": newest}).json()["items"] == []
    older = get(base, "/api/v1/headlines", params={"until": newest, "limit": 5}).json()
    assert all(i["published_at"] < newest for i in older["items"])


def test_pipeline_reports_feeds_models_and_unreachable_workers(base: str) -> None:
    data = get(base, "/api/v1/pipeline").json()
    feeds = {f["source"]: f for f in data["feeds"]}
    assert feeds["bad-feed"]["consecutive_failures"] == 3
    assert feeds["good-feed"]["last_status"] == "200"
    assert "etag" not in feeds["good-feed"]
    assert data["models"][0]["model_version"] == "seed-model-1"
    # The chart is the last 15 minutes of the hour the model table sums.
    minutes = data["classified_per_minute"]
    assert 5 <= len(minutes) <= 16  # the seed writes every other minute
    charted = sum(m["classified"] for m in minutes)
    assert data["models"][0]["classified_last_hour"] > charted > 0
    assert data["models"][0]["last_minute"] == minutes[-1]["minute"]
    assert isinstance(data["query_ms"], float)


def test_pages_escape_hostile_text_and_forbid_external_origins(base: str) -> None:
    for path in ("/", "/alerts", "/headlines", "/entities", "/pipeline", "/api", "/alerts/1"):
        response = get(base, path, follow_redirects=True)  # "/" names its range first
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP
        assert "http" not in CSP and "unsafe" not in CSP
        assert "<script>" not in response.text  # scripts only by src, never inline
        assert "cdn" not in response.text.lower()
    # The API hands the hostile text back as data, for the page to set as text.
    item = get(base, "/api/v1/headlines?source=hostile-feed").json()["items"][0]
    assert item["title"] == EVIL_TITLE and item["url"] == EVIL_URL
    # A page asked for with a hostile query string echoes nothing of it as markup.
    page = get(base, "/headlines?q=%3Cscript%3Ealert(1)%3C/script%3E").text
    assert "<script>alert" not in page


def test_a_foreign_host_name_is_refused_on_loopback(base: str) -> None:
    assert get(base, "/api/v1/alerts", headers={"Host": "evil.example"}).status_code == 400


def test_non_loopback_binding_needs_a_token_and_requests_carry_it(
    database_url: str, seeded: Seeded
) -> None:
    with pytest.raises(UnsafeBindError):
        check_bind("0.0.0.0", None)
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "s3cret-token")
    config = WebConfig(host="0.0.0.0", token=SecretStr("s3cret-token"))
    ctx = WebContext(config=config, database_url=readonly_url(config, database_url))
    with serve(ctx) as url:
        assert get(url, "/api/v1/alerts").status_code == 401
        assert get(url, "/api/v1/alerts?token=wrong").status_code == 401
        ok = get(url, "/api/v1/alerts", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
        login = get(url, "/headlines?token=s3cret-token&topic=Macro")
        assert login.status_code == 303 and login.headers["location"] == "/headlines?topic=Macro"
        cookie = login.cookies["tapewatch_token"]
        assert cookie != "s3cret-token"  # a digest, not the token
        assert get(url, "/headlines", cookies={"tapewatch_token": cookie}).status_code == 200


def test_the_app_refuses_a_role_that_can_read_the_tables(database_url: str) -> None:
    owner = make_readonly_engine(database_url, WebConfig())  # the owner of the schema
    with pytest.raises(NotReadOnlyError):
        check_read_only(owner)
    owner.dispose()
    reader = make_readonly_engine(readonly_url(WebConfig(), database_url), WebConfig())
    check_read_only(reader)
    reader.dispose()


def test_the_overview_opens_on_the_shortest_range_that_holds_the_history(
    database_url: str, ctx: WebContext
) -> None:
    """A fresh install's first minutes fill the chart; a long history opens on 24 h. The URL a
    bare "/" lands on names the range, so a bookmark keeps what was shown."""
    from datetime import UTC

    from storage import make_engine, session_scope
    from storage.repository import store_classified
    from tests.web_seed import pair

    engine = make_engine(database_url, pool_size=1)

    def store(n: int, age: timedelta) -> None:
        h, c = pair(n, topic="Macro", sentiment="neutral", at=datetime.now(UTC) - age)
        with session_scope(engine) as session:
            store_classified(session, [h], [c])

    with serve(ctx) as url:

        def opens_on() -> str:
            answer = get(url, "/", follow_redirects=False)
            assert answer.status_code == 302
            return answer.headers["location"]

        assert opens_on() == "/?range=1h"  # nothing stored yet
        store(1, timedelta(minutes=20))
        assert opens_on() == "/?range=1h"
        store(2, timedelta(hours=3))
        assert opens_on() == "/?range=6h"
        store(3, timedelta(days=3))
        assert opens_on() == "/?range=24h"
        page = get(url, "/", follow_redirects=True)
        assert page.status_code == 200 and str(page.url).endswith("/?range=24h")
        assert get(url, "/?range=7d", follow_redirects=False).status_code == 200
    engine.dispose()
