"""Hostile input, generated: whatever body reaches the push endpoint it answers 202 or a 4xx
(never a 500), and whatever bytes a feed serves they are parsed or become a counted feed error
(never an uncaught exception). Against the real Kafka broker and PostgreSQL."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.config import FeedSpec, IngestConfig
from ingest.dedupe import SeenStore, SimIndex
from ingest.errors import IngestError
from ingest.feed_state import FeedStateStore
from ingest.fetch import Fetcher
from ingest.metrics import IngestMetrics
from ingest.pipeline import Pipeline
from ingest.producer import HeadlinePublisher
from ingest.sources.push import PushServer
from ingest.sources.rss import FeedPoller, parse_feed
from storage.db import make_engine
from tapewatch.local import LocalKafka

# Examples share one broker, database and server, so they are cheap but not independent.
SHARED = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- generated push bodies ------------------------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
# Near-valid headlines: the real field names with values of any type, plus strays.
_fields = st.sampled_from(["title", "url", "published_at", "source", "tickers", "colour"])
_headlike = st.dictionaries(_fields, _json_values | st.text(max_size=300), min_size=1)
_escapes = st.sampled_from(
    [
        '"\\ud800"',  # a lone surrogate: valid JSON, not encodable as UTF-8
        '"\\u0000 title"',
        '"' + "x" * 3000 + '"',
        "1" + "0" * 5000,  # beyond Python's integer conversion limit
        "1e999",
        "-0",
        "NaN",
    ]
)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(_headlike, max_size=12).map(lambda v: json.dumps(v).encode()),
    _headlike.map(lambda v: json.dumps(v).encode()),
    _escapes.map(lambda e: b'{"title": ' + e.encode() + b"}"),
    _escapes.map(lambda e: b'[{"title": "ok", "tickers": [' + e.encode() + b"]}]"),
    st.integers(min_value=1, max_value=200_000).map(_nested),
    st.integers(min_value=1, max_value=200_000).map(lambda d: b"{" * d),
)


class Parts:
    def __init__(self, bootstrap: str, topic: str, database_url: str) -> None:
        self.config = IngestConfig.model_validate(
            {"feeds": [], "replay_path": None, "linger_ms": 5, "host_min_interval_s": 0.0}
        )
        self.engine = make_engine(database_url)
        self.metrics = IngestMetrics()
        self.store = SeenStore(self.engine, SimIndex(4, timedelta(hours=72)))
        self.publisher = HeadlinePublisher(bootstrap, topic, self.config)
        self.pipeline = Pipeline(self.config, self.store, self.publisher, self.metrics)

    def count(self, metric: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(metric, labels) or 0.0

    def close(self) -> None:
        self.publisher.close()
        self.engine.dispose()


@pytest.fixture
def parts(kafka: LocalKafka, topic_name: str, database_url: str) -> Iterator[Parts]:
    p = Parts(kafka.bootstrap, topic_name, database_url)
    yield p
    p.close()


@pytest.fixture
def push(parts: Parts) -> Iterator[httpx.Client]:
    server = PushServer(parts.pipeline, parts.metrics, host="127.0.0.1", port=0, max_items=10)
    port = server.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client
    server.stop()


def test_a_deeply_nested_body_is_refused_with_a_reason(push: httpx.Client, parts: Parts) -> None:
    response = push.post("/headlines", content=_nested(100_000))
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]
    assert parts.count("ingest_items_rejected_total", source="push", reason="too_deep") == 1
    assert push.get("/healthz").status_code == 200


@SHARED
@given(body=_bodies)
def test_any_push_body_gets_202_or_a_4xx(push: httpx.Client, body: bytes) -> None:
    response = push.post("/headlines", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 202 or 400 <= response.status_code < 500, response.text
    if response.status_code != 202:
        assert response.json()  # every refusal says why


# --- generated feed bytes -------------------------------------------------------------------

_RSS_ITEM = "<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate></item>"
_texts = st.text(max_size=60)


@st.composite
def _feedlike(draw: st.DrawFn) -> bytes:
    """An RSS or Atom document with generated fields, then perhaps cut or corrupted."""
    items = draw(
        st.lists(
            st.fixed_dictionaries({"title": _texts, "link": _texts, "date": _texts}), max_size=4
        )
    )
    if draw(st.booleans()):
        inner = "".join(_RSS_ITEM.format(**item) for item in items)
        doc = f'<?xml version="1.0"?><rss version="2.0"><channel>{inner}</channel></rss>'
    else:
        inner = "".join(
            f"<entry><title>{i['title']}</title><link href='{i['link']}'/>"
            f"<updated>{i['date']}</updated></entry>"
            for i in items
        )
        doc = f'<feed xmlns="http://www.w3.org/2005/Atom">{inner}</feed>'
    body = doc.encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), "replace")
    cut = draw(st.integers(min_value=0, max_value=len(body)))
    junk = draw(st.binary(max_size=8))
    return draw(st.sampled_from([body, body[:cut], body[:cut] + junk + body[cut:]]))


_feed_bytes = st.one_of(
    st.binary(max_size=300),
    _feedlike(),
    st.sampled_from([b"", b" ", b"\n\n", b"\x00", b"<", b"<rss>", b"<?xml", b"\xef\xbb\xbf"]),
    st.integers(min_value=1, max_value=50_000).map(lambda d: b"<a>" * d),
)
_content_types = st.sampled_from(
    [None, "application/rss+xml", "text/html", "application/xml; charset=utf-16", "x/\x7f"]
)


@settings(max_examples=400, deadline=None)
@given(body=_feed_bytes, content_type=_content_types)
def test_the_feed_parser_returns_items_or_raises_a_feed_error(
    body: bytes, content_type: str | None
) -> None:
    try:
        items, _warning = parse_feed(body, content_type, "https://feed.example/rss")
    except IngestError as exc:
        assert exc.kind in ("not_a_feed", "malformed")
        return
    assert isinstance(items, list)


@pytest.fixture
def feed_url() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server answering 200 with whatever bytes the test last put in the list."""
    served: list[bytes] = [b""]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(served[0])))
            self.end_headers()
            self.wfile.write(served[0])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/feed", served
    server.shutdown()
    server.server_close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_feed_bytes)
def test_any_feed_body_is_ingested_or_a_counted_error_that_backs_off(
    parts: Parts, database_url: str, feed_url: tuple[str, list[bytes]], body: bytes
) -> None:
    url, served = feed_url
    served[0] = body
    engine = make_engine(database_url)
    fetcher = Fetcher(parts.config)
    # A fresh feed name per example: no back-off from an earlier example gets in the way.
    name = f"gen-{uuid.uuid4().hex[:12]}"
    poller = FeedPoller(
        FeedSpec(name=name, url=url),
        config=parts.config,
        fetcher=fetcher,
        pipeline=parts.pipeline,
        states=FeedStateStore(engine),
        metrics=parts.metrics,
    )
    try:
        result = poller.poll()
    finally:
        fetcher.close()
        engine.dispose()
    assert parts.count("ingest_errors_total", source=name, kind="unexpected") == 0
    if result.status == "error":
        assert result.error is not None
        assert parts.count("ingest_errors_total", source=name, kind=result.error.kind) == 1
        assert poller.poll().status == "backing_off"
    else:
        assert result.status == "ok"
