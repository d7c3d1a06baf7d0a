"""Headline search and filters as the API answers them (migration 0006's views, the search's
time windows): matches spread over weeks come back newest first and complete, whichever step
finds them; a topic and sentiment filter tests the counted classification only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import make_engine, session_scope
from storage.repository import store_classified
from tests.web_seed import pair
from tests.web_server import get, serve
from web.config import WebConfig
from web.context import WebContext
from web.db import readonly_url
from web.queries.headlines import SEARCH_WINDOWS, HeadlineFilter

NOW = datetime.now(UTC).replace(microsecond=0)
# (days ago, title, ticker): three old matches, one recent, around plenty of noise.
MATCHES = [
    (20, "Crude slump deepens as tankers idle", "QZX"),
    (19, "Crude slump hits refiners", "QZX"),
    (3, "Crude slump eases", None),
    (0.05, "Crude slump returns", "QZX"),
]


def _store(database_url: str) -> None:
    pairs = []
    for n, (days, title, ticker) in enumerate(MATCHES):
        at = NOW - timedelta(days=days)
        tickers = [ticker] if ticker else []
        pairs.append(
            pair(n, topic="Energy | Oil", sentiment="negative", at=at, title=title, tickers=tickers)
        )
    for n in range(100, 400):  # noise: crude without slump, slump without crude
        at = NOW - timedelta(hours=n / 3)
        title = "Crude output steady" if n % 2 else "Shares slump on guidance"
        pairs.append(pair(n, topic="Markets", sentiment="neutral", at=at, title=title))
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            store_classified(session, [h for h, _ in pairs], [c for _, c in pairs])
        # A newer model moves one old match to Macro/neutral: it no longer counts as Energy.
        _h, c = pairs[1]
        newer = c.model_copy(
            update={
                "model_version": "seed-model-2",
                "topic": "Macro",
                "sentiment": "neutral",
                "classified_at": c.classified_at + timedelta(hours=1),
            }
        )
        with session_scope(engine) as session:
            store_classified(session, [], [newer])
    finally:
        engine.dispose()


def test_search_steps_back_through_windows_and_ends_unbounded() -> None:
    steps = HeadlineFilter(q="x").windows(NOW)
    assert [s.since for s in steps] == [NOW - w for w in SEARCH_WINDOWS] + [None]
    assert HeadlineFilter(topic="Macro").windows(NOW) == [HeadlineFilter(topic="Macro")]
    live = HeadlineFilter(q="x", after=NOW)
    assert live.windows(NOW) == [live]
    recent = HeadlineFilter(ticker="QZX", since=NOW - timedelta(days=1))
    assert [s.since for s in recent.windows(NOW)] == [NOW - SEARCH_WINDOWS[0], recent.since]


def test_search_ticker_and_topic_filters_over_weeks(database_url: str) -> None:
    _store(database_url)
    config = WebConfig()
    ctx = WebContext(config=config, database_url=readonly_url(config, database_url))
    with serve(ctx) as base:

        def titles(query: str) -> list[str]:
            answer = get(base, f"/api/v1/headlines?{query}")
            assert answer.status_code == 200, answer.text
            return [i["title"] for i in answer.json()["items"]]

        newest_first = [t for _d, t, _ in MATCHES][::-1]
        assert titles('q="crude slump"') == newest_first  # found by the unbounded last step
        assert titles('q="crude slump"&limit=2') == newest_first[:2]  # by the first windows
        assert titles("ticker=qzx") == [newest_first[0], newest_first[2], newest_first[3]]
        assert titles("ticker=NOPE") == []
        until = (NOW - timedelta(days=10)).isoformat().replace("+00:00", "Z")
        assert titles(f'q="crude slump"&until={until}') == newest_first[2:]
        # The re-classified one counts as Macro now, under either filter.
        energy = titles("topic=Energy%20%7C%20Oil&sentiment=negative")
        assert energy == [t for t in newest_first if t != "Crude slump hits refiners"]
        assert titles("topic=Macro") == ["Crude slump hits refiners"]
        assert titles('topic=Macro&q="crude slump"') == ["Crude slump hits refiners"]
        assert titles("topic=Markets&sentiment=negative") == []
