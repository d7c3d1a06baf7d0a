"""Replay files, the HTTP push endpoint, the scheduler's hard timeout and the whole worker,
against the real Kafka broker and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ingest.config import IngestConfig
from ingest.dedupe import SeenStore, SimIndex
from ingest.metrics import IngestMetrics
from ingest.pipeline import Pipeline
from ingest.producer import HeadlinePublisher
from ingest.scheduler import GuardedPoll
from ingest.sources.push import PushServer
from ingest.sources.replay import ReplaySource
from ingest.worker import IngestWorker
from storage.db import make_engine, session_scope
from storage.models import SeenHeadline
from tapewatch.health import HealthConfig
from tapewatch.local import LocalKafka
from tapewatch.local.proc import free_port
from tapewatch.settings import Settings
from tests.kafka_helpers import consume_headlines, topic_size

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


class Parts:
    def __init__(self, bootstrap: str, topic: str, database_url: str, **overrides: object):
        self.config = IngestConfig.model_validate(
            {"feeds": [], "replay_path": None, "linger_ms": 5} | overrides
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


# --- replay -------------------------------------------------------------------------------------


def _replay(parts: Parts, path: Path, **kwargs: object) -> ReplaySource:
    return ReplaySource(
        path,
        name="backfill",
        pipeline=parts.pipeline,
        metrics=parts.metrics,
        stop=threading.Event(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_jsonl_replay_publishes_valid_rows_once_and_counts_bad_ones(
    parts: Parts, kafka: LocalKafka, topic_name: str, tmp_path: Path
) -> None:
    path = tmp_path / "backfill.jsonl"
    rows = [
        {
            "title": "Fed holds rates",
            "url": "https://a.example/1",
            "published_at": "2024-06-12T18:00:00Z",
        },
        {
            "title": "Bank posts loss",
            "source": "wire-x",
            "tickers": ["$ABC"],
            "published_at": 1718215200,
        },
        {"title": "Naive time", "published_at": "2024-06-12T18:00:00"},
        {"url": "https://a.example/no-title"},
    ]
    lines = [json.dumps(r) for r in rows] + ["{not json", "[1, 2]", ""]
    path.write_text("\n".join(lines) + "\n")
    outcome = _replay(parts, path).run()
    assert outcome.published == 3
    got = {h.title: (key, h) for key, h in consume_headlines(kafka.bootstrap, topic_name, 3)}
    assert set(got) == {"Fed holds rates", "Bank posts loss", "Naive time"}
    key, bank = got["Bank posts loss"]
    assert key == bank.id.encode() and bank.source == "wire-x" and bank.tickers == ["ABC"]
    assert bank.published_at.isoformat() == "2024-06-12T18:00:00+00:00"
    assert got["Fed holds rates"][1].source == "backfill"
    assert got["Naive time"][1].published_at == got["Naive time"][1].ingested_at
    assert parts.count("ingest_items_rejected_total", source="backfill", reason="bad_row") == 2
    assert (
        parts.count("ingest_items_rejected_total", source="backfill", reason="missing_title") == 1
    )

    again = _replay(parts, path).run()
    assert again.published == 0 and again.duplicates == 3
    assert topic_size(kafka.bootstrap, topic_name) == 3


def test_csv_replay_with_time_compression_and_progress(
    parts: Parts, kafka: LocalKafka, topic_name: str, tmp_path: Path
) -> None:
    path = tmp_path / "backfill.csv"
    path.write_text(
        "title,url,published_at,tickers\n"
        '"Stocks open higher, $SPY up",https://b.example/1,2024-06-12T13:30:00+00:00,\n'
        "Yields slip,https://b.example/2,2024-06-12T13:40:00+00:00,TLT IEF\n"
    )
    started = time.monotonic()
    outcome = _replay(parts, path, speedup=600.0, progress=True).run()  # 10 minutes -> 1 s
    assert time.monotonic() - started >= 0.9  # the gap between the rows was replayed
    assert outcome.published == 2
    got = {h.title: h for _, h in consume_headlines(kafka.bootstrap, topic_name, 2)}
    assert got["Stocks open higher, $SPY up"].tickers == ["SPY"]
    assert got["Yields slip"].tickers == ["TLT", "IEF"]


def test_a_missing_replay_file_is_counted_not_fatal(parts: Parts, tmp_path: Path) -> None:
    assert _replay(parts, tmp_path / "nope.jsonl").run().fetched == 0
    assert parts.count("ingest_errors_total", source="backfill", kind="replay_file") == 1


# --- push ---------------------------------------------------------------------------------------


@pytest.fixture
def push(parts: Parts) -> Iterator[str]:
    server = PushServer(parts.pipeline, parts.metrics, host="127.0.0.1", port=0, max_items=10)
    port = server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_push_accepts_valid_headlines_once(
    push: str, parts: Parts, kafka: LocalKafka, topic_name: str
) -> None:
    doc = [
        {
            "title": "Chipmaker <b>raises</b> outlook",
            "url": "https://c.example/1?utm_campaign=z",
            "published_at": "2024-06-12T20:00:00+02:00",
            "source": "partner-wire",
            "tickers": ["NVDA"],
        },
        {"title": "Retailer cuts jobs"},
    ]
    first = httpx.post(f"{push}/headlines", json=doc)
    assert first.status_code == 202
    assert first.json()["accepted"] == 2 and len(first.json()["new"]) == 2
    got = {h.title: (key, h) for key, h in consume_headlines(kafka.bootstrap, topic_name, 2)}
    key, chip = got["Chipmaker raises outlook"]
    assert key == chip.id.encode() and chip.id in first.json()["new"]
    assert chip.url == "https://c.example/1" and chip.source == "partner-wire"
    assert chip.published_at.isoformat() == "2024-06-12T18:00:00+00:00"
    assert chip.tickers == ["NVDA"]
    assert got["Retailer cuts jobs"][1].source == "push"

    again = httpx.post(f"{push}/headlines", json=doc[0])
    assert again.status_code == 202 and again.json() == {"accepted": 1, "new": [], "duplicates": 1}
    assert topic_size(kafka.bootstrap, topic_name) == 2
    assert httpx.get(f"{push}/healthz").status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (json.dumps({"url": "https://x.example/"}).encode(), 422),  # no title
        (json.dumps({"title": "x", "published_at": "2024-06-12T18:00:00"}).encode(), 422),  # naive
        (json.dumps({"title": "x", "colour": "red"}).encode(), 422),  # unknown field
        (json.dumps({"title": "<b> </b>"}).encode(), 422),  # nothing left once cleaned
        (json.dumps([{"title": "x"}] * 11).encode(), 422),  # more than max_items
        (json.dumps("just a string").encode(), 422),
    ],
)
def test_push_refuses_invalid_input_and_publishes_nothing(
    push: str, kafka: LocalKafka, topic_name: str, body: bytes, status: int
) -> None:
    response = httpx.post(
        f"{push}/headlines", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert topic_size(kafka.bootstrap, topic_name) == 0


def test_push_answers_503_and_remembers_nothing_when_kafka_does_not_confirm(
    database_url: str,
) -> None:
    config = IngestConfig(feeds=[], replay_path=None, publish_attempts=2, delivery_timeout_s=1.5)
    engine = make_engine(database_url)
    metrics = IngestMetrics()
    store = SeenStore(engine, SimIndex(4, timedelta(hours=1)))
    # A port with no broker behind it (api_version given: no start-up probe).
    publisher = HeadlinePublisher(
        "127.0.0.1:9", "t", config, api_version=(3, 9), max_block_ms=1000, request_timeout_ms=500
    )
    server = PushServer(
        Pipeline(config, store, publisher, metrics),
        metrics,
        host="127.0.0.1",
        port=0,
        max_items=10,
    )
    port = server.start()
    try:
        response = httpx.post(
            f"http://127.0.0.1:{port}/headlines", json={"title": "Lost?"}, timeout=30
        )
    finally:
        server.stop()
        publisher.close(timeout_s=1)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert (
        metrics.registry.get_sample_value(
            "ingest_errors_total", {"source": "push", "kind": "publish"}
        )
        == 1
    )
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(SeenHeadline)) == 0
    engine.dispose()


# --- scheduling ---------------------------------------------------------------------------------


def test_a_hung_poll_is_abandoned_after_the_hard_timeout_and_not_restarted() -> None:
    metrics = IngestMetrics()
    release = threading.Event()
    calls = []

    def hang() -> None:
        calls.append(1)
        release.wait(30)

    job = GuardedPoll("stuck", hang, hard_timeout_s=0.3, metrics=metrics)
    job()  # returns although the poll is still running
    job()  # the abandoned poll still runs: skipped, not stacked
    release.set()
    assert len(calls) == 1
    sample = metrics.registry.get_sample_value
    assert sample("ingest_errors_total", {"source": "stuck", "kind": "hard_timeout"}) == 1
    assert sample("ingest_errors_total", {"source": "stuck", "kind": "hung"}) == 1


# --- the whole worker ---------------------------------------------------------------------------


class _Feeds(BaseHTTPRequestHandler):
    release = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/hang":
            self.release.wait(20)
        body = (FIXTURES / "markets.xml").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_the_worker_runs_feeds_replay_and_push_and_flushes_on_stop(
    kafka: LocalKafka, topic_name: str, database_url: str, tmp_path: Path
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feeds)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    replay = tmp_path / "demo.jsonl"
    replay.write_text(json.dumps({"title": "Replayed headline", "url": "https://r.example/1"}))
    settings = Settings(
        kafka_bootstrap=kafka.bootstrap,
        database_url=database_url,
        topic_raw=topic_name,
        ingest=IngestConfig(
            feeds=[
                {"name": "hanging", "url": f"{base}/hang", "interval_s": 1, "jitter_s": 0},
                {"name": "markets", "url": f"{base}/markets.xml", "interval_s": 1, "jitter_s": 0},
            ],
            replay_path=replay,
            push_port=0,
            metrics_port=0,
            read_timeout_s=30,
            fetch_deadline_s=30,
            hard_timeout_s=1.0,
            host_min_interval_s=0,
        ),
        health=HealthConfig(ingest_port=free_port()),
    )
    worker = IngestWorker(settings)
    worker.start()
    try:
        assert worker.push is not None
        pushed = httpx.post(
            f"http://127.0.0.1:{worker.push.port}/headlines", json={"title": "Pushed headline"}
        )
        assert pushed.status_code == 202
        health = f"http://127.0.0.1:{settings.health.ingest_port}"
        assert httpx.get(f"{health}/healthz").json() == {"status": "ok", "reasons": []}
        assert httpx.get(f"{health}/readyz").status_code == 200
        got = consume_headlines(kafka.bootstrap, topic_name, 5)
        labels = {"source": "hanging", "kind": "hard_timeout"}
        deadline = time.monotonic() + 20
        while worker.metrics.registry.get_sample_value("ingest_errors_total", labels) is None:
            assert time.monotonic() < deadline, "the hanging poll was never abandoned"
            time.sleep(0.1)
        metrics_page = httpx.get(f"http://127.0.0.1:{worker.metrics_port}/metrics").text
    finally:
        _Feeds.release.set()
        worker.stop()
        server.shutdown()
        server.server_close()
    # The hanging feed did not hold up the other feed, the replay or the push.
    assert {h.source for _, h in got} == {"markets", "replay", "push"}
    assert len(got) == 5
    assert 'ingest_items_new_total{source="markets"} 3.0' in metrics_page
    assert 'ingest_errors_total{kind="hard_timeout",source="hanging"}' in metrics_page
    assert "ingest_last_success_timestamp_seconds" in metrics_page
