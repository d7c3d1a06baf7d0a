"""Polling real HTTP feeds served by a local server the tests start: new headlines reach the
real Kafka broker exactly once, with the right key and schema; 304s, restarts and re-polls add
nothing; syndicated copies share a cluster id; every kind of bad server is survived, counted,
recorded in the feed state and backed off, without touching other feeds."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest.config import FeedSpec, IngestConfig
from ingest.dedupe import SeenStore, SimIndex
from ingest.feed_state import FeedStateStore
from ingest.fetch import Fetcher
from ingest.metrics import IngestMetrics
from ingest.pipeline import Pipeline
from ingest.producer import HeadlinePublisher
from ingest.sources.rss import FeedPoller, PollResult
from storage.db import make_engine, session_scope
from storage.models import FeedState
from tapewatch.local import LocalKafka
from tests.kafka_helpers import consume_headlines, topic_size

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 12 Jun 2024 18:10:00 GMT"


@dataclass
class FeedServer:
    """A loopback HTTP server with one path per kind of feed and misbehaviour."""

    server: ThreadingHTTPServer
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    body: bytes = b""  # served at /bytes

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


def _handler(state: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path
            state.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
            feed = {
                "/markets.xml": ("markets.xml", "application/rss+xml"),
                "/wire.atom": ("wire.atom", "application/atom+xml"),
                "/latin1.xml": ("latin1.xml", "application/rss+xml"),
                "/malformed.xml": ("malformed.xml", "application/xml"),
                "/plain/markets.xml": ("markets.xml", "application/rss+xml"),
            }
            if path in feed:
                name, ctype = feed[path]
                body = (FIXTURES / name).read_bytes()
                if path.startswith("/plain/"):  # no validators: every poll gets the full body
                    return self._send(200, body, ctype)
                if self.headers.get("If-None-Match") == ETAG:
                    self.send_response(304)
                    self.end_headers()
                    return None
                return self._send(200, body, ctype, ETag=ETAG, Last_Modified=LAST_MODIFIED)
            if path == "/gzip.xml":
                body = gzip.compress((FIXTURES / "wire.atom").read_bytes())
                return self._send(200, body, "application/atom+xml", Content_Encoding="gzip")
            if path == "/error.html":
                return self._send(200, (FIXTURES / "error.html").read_bytes(), "text/html")
            if path == "/empty":  # 200 and nothing in it
                return self._send(200, b"", "application/rss+xml")
            if path == "/bytes":  # whatever the test put there
                return self._send(200, state.body, "application/xml")
            if path == "/500":
                return self._send(500, b"<h1>Internal Server Error</h1>", "text/html")
            if path == "/404":
                return self._send(404, b"not found", "text/plain")
            if path == "/throttled":
                return self._send(429, b"slow down", "text/plain", Retry_After="120")
            if path == "/slow":  # headers only after the client's read timeout
                state.release.wait(5)
                return self._send(200, (FIXTURES / "wire.atom").read_bytes(), "application/xml")
            if path == "/drip":  # never silent long enough for a read timeout, never done
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.end_headers()
                self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
                for _ in range(50):
                    if state.release.wait(0.1):
                        break
                    self.wfile.write(b" ")
                    self.wfile.flush()
                return None
            if path == "/huge":  # a 10 MB body, declared
                return self._send(200, b"<rss>" + b" " * 10_000_000, "application/rss+xml")
            if path == "/huge-undeclared":  # 10 MB, no Content-Length (read until close)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b" " * 65536
                try:
                    for _ in range(160):
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return None
            if path in ("/loop-a", "/loop-b"):
                target = "/loop-b" if path == "/loop-a" else "/loop-a"
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._send(404, b"no such fixture", "text/plain")

    return Handler


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    state = FeedServer(server)
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def _config(**overrides: object) -> IngestConfig:
    values: dict[str, object] = {
        "feeds": [],
        "replay_path": None,
        "push_enabled": False,
        "connect_timeout_s": 2.0,
        "read_timeout_s": 0.5,
        "fetch_deadline_s": 1.5,
        "max_body_bytes": 1_000_000,
        "host_min_interval_s": 0.0,
        "backoff_base_s": 60.0,
        "linger_ms": 5,
    }
    values.update(overrides)
    return IngestConfig.model_validate(values)


class Ingest:
    """The ingest objects of one worker process, built as the worker builds them."""

    def __init__(self, config: IngestConfig, bootstrap: str, topic: str, database_url: str):
        self.config = config
        self.engine = make_engine(database_url)
        self.metrics = IngestMetrics()
        self.store = SeenStore(
            self.engine,
            SimIndex(
                config.near_duplicate_max_distance, timedelta(hours=config.cluster_window_hours)
            ),
        )
        self.store.load_recent(datetime.now(UTC))
        self.publisher = HeadlinePublisher(bootstrap, topic, config)
        self.pipeline = Pipeline(config, self.store, self.publisher, self.metrics)
        self.fetcher = Fetcher(config)
        self.states = FeedStateStore(self.engine)

    def poller(self, name: str, url: str) -> FeedPoller:
        return FeedPoller(
            FeedSpec(name=name, url=url),
            config=self.config,
            fetcher=self.fetcher,
            pipeline=self.pipeline,
            states=self.states,
            metrics=self.metrics,
        )

    def count(self, metric: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(metric, labels) or 0.0

    def state(self, source: str) -> FeedState:
        with session_scope(self.engine) as session:
            row = session.scalar(select(FeedState).where(FeedState.source == source))
            assert row is not None
            session.expunge(row)
            return row

    def close(self) -> None:
        self.publisher.close()
        self.fetcher.close()
        self.engine.dispose()


@pytest.fixture
def ingest(kafka: LocalKafka, topic_name: str, database_url: str) -> Iterator[Ingest]:
    ing = Ingest(_config(), kafka.bootstrap, topic_name, database_url)
    yield ing
    ing.close()


def test_new_items_reach_kafka_once_with_key_and_schema_and_304_adds_nothing(
    ingest: Ingest, feed_server: FeedServer, kafka: LocalKafka, topic_name: str
) -> None:
    poller = ingest.poller("example-markets", feed_server.url("/markets.xml"))
    first = poller.poll()
    assert first.status == "ok" and first.outcome is not None
    messages = consume_headlines(kafka.bootstrap, topic_name)
    # Five items: two have no title and are rejected; the other three are published once.
    assert len(messages) == 3
    by_title = {h.title: (key, h) for key, h in messages}
    assert set(by_title) == {
        "Fed holds rates steady, signals two cuts later this year",
        "Apple beats estimates as services revenue jumps & iPhone sales hold up $AAPL",
        "Oil slides as OPEC+ agrees to raise output (NYSE: XOM) shares dip",
    }
    for key, headline in messages:
        assert key == headline.id.encode()
        assert headline.source == "example-markets"
        assert headline.schema_version == 1
        assert headline.cluster_id is not None
    _, fed = by_title["Fed holds rates steady, signals two cuts later this year"]
    assert fed.url == "https://markets.example.com/economy/fed-holds-rates?id=42"
    assert fed.published_at == datetime(2024, 6, 12, 18, 0, tzinfo=UTC)
    _, apple = by_title[
        "Apple beats estimates as services revenue jumps & iPhone sales hold up $AAPL"
    ]
    assert apple.url == "https://markets.example.com/tech/apple-beats"
    assert apple.published_at == datetime(2024, 6, 12, 20, 30, tzinfo=UTC)
    assert apple.tickers == ["AAPL"]
    _, oil = by_title["Oil slides as OPEC+ agrees to raise output (NYSE: XOM) shares dip"]
    assert oil.tickers == ["XOM"]
    assert oil.published_at == oil.ingested_at  # unreadable date: the fetch time stands in
    assert ingest.count("ingest_items_date_replaced_total", source="example-markets") == 1
    assert (
        ingest.count(
            "ingest_items_rejected_total", source="example-markets", reason="missing_title"
        )
        == 2
    )
    assert ingest.count("ingest_items_new_total", source="example-markets") == 3
    assert ingest.state("example-markets").etag == ETAG

    second = poller.poll()
    assert second.status == "not_modified"
    assert feed_server.hits("/markets.xml")[-1].get("if-none-match") == ETAG
    assert feed_server.hits("/markets.xml")[-1].get("if-modified-since") == LAST_MODIFIED
    assert topic_size(kafka.bootstrap, topic_name) == 3
    assert ingest.count("ingest_not_modified_total", source="example-markets") == 1
    assert ingest.count("ingest_last_success_timestamp_seconds", source="example-markets") > 0


def test_a_restart_republishes_nothing(
    feed_server: FeedServer, kafka: LocalKafka, topic_name: str, database_url: str
) -> None:
    url = feed_server.url("/plain/markets.xml")  # no ETag: each poll returns the whole feed
    first = Ingest(_config(), kafka.bootstrap, topic_name, database_url)
    assert first.poller("markets", url).poll().status == "ok"
    assert first.poller("markets", url).poll().outcome.new == []  # re-poll: all duplicates
    first.close()
    assert topic_size(kafka.bootstrap, topic_name) == 3

    restarted = Ingest(_config(), kafka.bootstrap, topic_name, database_url)
    result = restarted.poller("markets", url).poll()
    restarted.close()
    assert result.status == "ok" and result.outcome is not None
    assert result.outcome.new == [] and result.outcome.duplicates == 3
    assert len(feed_server.hits("/plain/markets.xml")) == 3
    assert topic_size(kafka.bootstrap, topic_name) == 3


def test_the_same_story_in_two_feeds_shares_a_cluster_id(
    ingest: Ingest, feed_server: FeedServer, kafka: LocalKafka, topic_name: str
) -> None:
    ingest.poller("markets", feed_server.url("/markets.xml")).poll()
    ingest.poller("wire", feed_server.url("/gzip.xml")).poll()  # gzip-encoded Atom
    headlines = {h.title: h for _, h in consume_headlines(kafka.bootstrap, topic_name)}
    assert len(headlines) == 5
    original = headlines["Fed holds rates steady, signals two cuts later this year"]
    copy = headlines[
        "UPDATE 1-Fed holds rates steady and signals two cuts later this year - Example Wire"
    ]
    assert copy.source == "wire" and copy.id != original.id
    assert copy.cluster_id == original.cluster_id == original.id
    recall = headlines["Automaker recalls 500,000 vehicles over airbag defect"]
    assert recall.cluster_id == recall.id
    assert recall.published_at == datetime(2024, 6, 12, 15, 0, tzinfo=UTC)  # +02:00 -> UTC
    # Every other story is a cluster of its own.
    assert len({h.cluster_id for h in headlines.values()}) == 4
    assert ingest.count("ingest_items_near_duplicate_total", source="wire") == 1


def test_a_latin1_feed_is_decoded(
    ingest: Ingest, feed_server: FeedServer, kafka: LocalKafka, topic_name: str
) -> None:
    assert ingest.poller("bourse", feed_server.url("/latin1.xml")).poll().status == "ok"
    [(_, headline)] = consume_headlines(kafka.bootstrap, topic_name)
    assert headline.title == "Société Générale relève ses objectifs, le titre gagne 3 £"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/error.html", "not_a_feed"),
        ("/empty", "not_a_feed"),
        ("/malformed.xml", "malformed"),
        ("/slow", "timeout"),
        ("/drip", "timeout"),
        ("/huge", "too_large"),
        ("/huge-undeclared", "too_large"),
        ("/loop-a", "redirects"),
        ("/500", "http_status"),
        ("/404", "http_status"),
        ("/throttled", "throttled"),
    ],
)
def test_bad_sources_are_counted_recorded_backed_off_and_harm_no_other_feed(
    ingest: Ingest,
    feed_server: FeedServer,
    kafka: LocalKafka,
    topic_name: str,
    path: str,
    kind: str,
) -> None:
    bad = ingest.poller("bad", feed_server.url(path))
    result = bad.poll()
    assert result.status == "error"
    assert result.error is not None and result.error.kind == kind
    assert ingest.count("ingest_errors_total", source="bad", kind=kind) == 1
    state = ingest.state("bad")
    assert state.consecutive_failures == 1
    assert state.last_status == kind and state.last_error
    assert state.next_poll_after is not None
    pause = (state.next_poll_after - datetime.now(UTC)).total_seconds()
    assert pause > (100 if path == "/throttled" else 30)  # Retry-After: 120 is honoured

    # Backing off: the next scheduled poll does not touch the server.
    requests_before = len(feed_server.requests)
    assert bad.poll() == PollResult("backing_off")
    assert len(feed_server.requests) == requests_before

    # A healthy feed on the same worker is unaffected.
    assert ingest.poller("good", feed_server.url("/markets.xml")).poll().status == "ok"
    assert topic_size(kafka.bootstrap, topic_name) == 3


def test_failures_back_off_exponentially_and_success_resets(
    ingest: Ingest, feed_server: FeedServer
) -> None:
    clock = [datetime.now(UTC)]
    poller = ingest.poller("flaky", feed_server.url("/500"))
    poller.clock = lambda: clock[0]
    pauses = []
    for _ in range(3):
        assert poller.poll().status == "error"
        state = ingest.state("flaky")
        pauses.append((state.next_poll_after - clock[0]).total_seconds())
        clock[0] = state.next_poll_after + timedelta(seconds=1)
    assert ingest.state("flaky").consecutive_failures == 3
    assert pauses[0] < pauses[1] < pauses[2]
    poller.url = feed_server.url("/markets.xml")
    assert poller.poll().status == "ok"
    state = ingest.state("flaky")
    assert state.consecutive_failures == 0 and state.next_poll_after is None
    assert state.last_error is None
