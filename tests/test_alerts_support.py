"""Shared pieces of the alert tests: seeding classified headlines, and a real webhook receiver
on loopback that verifies signatures the way a user's receiver would. The tests here check
that receiver itself, so the other tests can trust what it reports."""

from __future__ import annotations

import hmac
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from sqlalchemy import Engine

from storage.db import session_scope
from storage.repository import store_classified
from tapewatch.events import ClassifiedHeadline, Headline
from tapewatch.local.proc import free_port

SECRET = "test-secret-0123456789abcdef"
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


# --- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    topic: str
    sentiment: str
    published_at: datetime
    p_neg: float = 0.5
    model: str = "m1"
    classified_after: timedelta = timedelta(seconds=5)


_ids = iter(range(1, 10**9))


def seed(engine: Engine, rows: Iterable[Row], *, ids: Iterable[int] | None = None) -> list[str]:
    """Store each row as a headline with one classification; returns the headline ids."""
    headlines, results = [], []
    id_iter = iter(ids) if ids is not None else _ids
    for row in rows:
        hid = f"{next(id_iter):032x}"
        headlines.append(
            Headline(
                id=hid,
                source="wire",
                title=f"{row.topic} {row.sentiment} headline {hid[-6:]}",
                url=f"https://news.example/{hid}",
                published_at=row.published_at,
                ingested_at=row.published_at,
            )
        )
        results.append(
            ClassifiedHeadline(
                headline_id=hid,
                source="wire",
                title=headlines[-1].title,
                url=headlines[-1].url,
                published_at=row.published_at,
                topic=row.topic,
                topic_confidence=0.9,
                sentiment=row.sentiment,  # type: ignore[arg-type]
                sentiment_confidence=0.9,
                probabilities={"sentiment": {"negative": row.p_neg}},
                model_version=row.model,
                classified_at=row.published_at + row.classified_after,
            )
        )
    with session_scope(engine) as session:
        store_classified(session, headlines, results)
    return [h.id for h in headlines]


def steady(
    topic: str,
    start: datetime,
    end: datetime,
    *,
    every: timedelta,
    negative_share: float,
    seed: int = 0,
) -> list[Row]:
    """A topic at a steady volume with a random (seeded) negative share."""
    rng = random.Random(f"{topic}-{seed}")
    rows, t = [], start
    while t < end:
        negative = rng.random() < negative_share
        rows.append(
            Row(
                topic,
                "negative" if negative else rng.choice(["neutral", "positive"]),
                t,
                p_neg=0.6 + 0.39 * rng.random() if negative else 0.3 * rng.random(),
            )
        )
        t += every
    return rows


def spike_scenario() -> list[Row]:
    """History around T0: a spike on Earnings from T0+20m to T0+50m, and two quiet topics.

    * Earnings: one headline a minute, ~20% negative, for 7 hours; during the spike three a
      minute, ~80% negative.
    * Markets: one a minute, ~30% negative with natural noise, no spike.
    * Dividends: one every 12 minutes, and a burst of 4 negative ones at T0+30m: noisy and
      low-volume, must not alert.
    """
    start, end = T0 - timedelta(hours=7), T0 + timedelta(hours=3)
    rows = steady("Earnings", start, end, every=timedelta(minutes=1), negative_share=0.2)
    spike_start, spike_end = T0 + timedelta(minutes=20), T0 + timedelta(minutes=50)
    rows += steady(
        "Earnings",
        spike_start,
        spike_end,
        every=timedelta(seconds=30),
        negative_share=0.9,
        seed=1,
    )
    rows += steady("Markets", start, end, every=timedelta(minutes=1), negative_share=0.3)
    rows += steady("Dividends", start, end, every=timedelta(minutes=12), negative_share=0.3)
    rows += [
        Row("Dividends", "negative", T0 + timedelta(minutes=30, seconds=s), p_neg=0.97)
        for s in (5, 15, 25, 35)
    ]
    return rows


# --- the receiver ------------------------------------------------------------------------------


@dataclass
class Received:
    key: str
    body: dict[str, Any]
    path: str


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: checks the HMAC and the timestamp's freshness like a
    real one, drops repeats by idempotency key, and can be switched to 503 or turned off."""

    secret: bytes = SECRET.encode()
    tolerance: float = 300.0
    port: int = field(default_factory=free_port)
    mode: str = "ok"  # "ok" | "unavailable"
    accepted: list[Received] = field(default_factory=list)
    requests: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def keys(self) -> Counter[str]:
        return Counter(r.key for r in self.accepted)

    def _handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        with self._lock:
            self.requests += 1
            if self.mode == "unavailable":
                return 503, b"down for maintenance"
            if handler.path.startswith("/gone"):
                self.rejected["gone"] += 1
                return 410, b"gone"
            ts = handler.headers.get("X-Tapewatch-Timestamp", "")
            sig = handler.headers.get("X-Tapewatch-Signature", "")
            expected = (
                "v1=" + hmac.new(self.secret, ts.encode() + b"." + body, "sha256").hexdigest()
            )
            if not hmac.compare_digest(expected, sig):
                self.rejected["signature"] += 1
                return 401, b"bad signature"
            if abs(time.time() - int(ts)) > self.tolerance:
                self.rejected["stale"] += 1
                return 401, b"stale timestamp"
            key = handler.headers.get("Idempotency-Key", "")
            if any(r.key == key for r in self.accepted):
                self.rejected["duplicate"] += 1
                return 200, b"already have it"
            self.accepted.append(Received(key, json.loads(body), handler.path))
            return 200, b"ok"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, text = receiver._handle(self)
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start`` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def signed_post(url: str, body: bytes, *, secret: bytes, timestamp: int, key: str) -> int:
    sig = "v1=" + hmac.new(secret, str(timestamp).encode() + b"." + body, "sha256").hexdigest()
    headers = {
        "X-Tapewatch-Timestamp": str(timestamp),
        "X-Tapewatch-Signature": sig,
        "Idempotency-Key": key,
    }
    return httpx.post(url, content=body, headers=headers, timeout=5).status_code


# --- the receiver's own checks -------------------------------------------------------------------


def test_receiver_accepts_fresh_signed_requests_and_rejects_forged_or_replayed_ones() -> None:
    receiver = Receiver().start()
    try:
        body, url, secret = b'{"hello":"world"}', receiver.url(), receiver.secret
        now = int(time.time())
        assert signed_post(url, body, secret=secret, timestamp=now, key="a") == 200
        assert signed_post(url, body, secret=b"wrong", timestamp=now, key="b") == 401
        # A captured request replayed ten minutes later: signature valid, timestamp stale.
        old = now - 600
        assert signed_post(url, body, secret=secret, timestamp=old, key="c") == 401
        assert signed_post(url, body, secret=secret, timestamp=now, key="a") == 200
        assert receiver.keys() == Counter({"a": 1})
        assert receiver.rejected == Counter({"signature": 1, "stale": 1, "duplicate": 1})
    finally:
        receiver.stop()
