"""What the Pipeline page shows beyond the database: the workers' Prometheus endpoints and the
dead-letter topic, read in a background thread so that no request waits on a slow worker.

Each endpoint that answers makes its worker "up"; its counters become per-second rates over
the last readings (the live view's :class:`~tapewatch.live_view.Rate`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from tapewatch.live_view import Rate, scrape
from web.dead_letters import DeadLetters, read_dead_letters

log = logging.getLogger(__name__)

METRICS_EVERY_S = 2.0
DEAD_LETTERS_EVERY_S = 10.0

# (worker, counter) pairs shown as rates, named as the page labels them.
RATES = {
    "ingest_fetched": ("ingest", "ingest_items_fetched_total"),
    "ingest_published": ("ingest", "ingest_items_new_total"),
    "ingest_duplicates": ("ingest", "ingest_items_duplicate_total"),
    "classified": ("classify", "tapewatch_classify_classified_total"),
    "stored": ("classify", "tapewatch_classify_rows_inserted_total"),
    "dead_lettered": ("classify", "tapewatch_classify_dead_lettered_total"),
    "alert_evaluations": ("alerts", "tapewatch_alert_evaluations_total"),
    "alert_deliveries": ("alerts", "tapewatch_alert_notifications_total"),
}


@dataclass
class Worker:
    name: str
    url: str
    up: bool = False
    last_seen: float | None = None
    uptime_s: float | None = None


@dataclass
class PipelineState:
    workers: list[Worker] = field(default_factory=list)
    rates: dict[str, float | None] = field(default_factory=dict)
    totals: dict[str, float | None] = field(default_factory=dict)
    consumer_lag: float | None = None
    dead_letters: DeadLetters = field(default_factory=DeadLetters)
    updated_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        now = time.time()
        return {
            "workers": [
                {
                    "name": w.name,
                    "state": "up" if w.up else "down",
                    "metrics_url": w.url,
                    "seen_s_ago": None if w.last_seen is None else round(now - w.last_seen, 1),
                    "uptime_s": w.uptime_s,
                }
                for w in self.workers
            ],
            "rates": self.rates,
            "totals": self.totals,
            "consumer_lag": self.consumer_lag,
            "dead_letters": asdict(self.dead_letters),
            "updated_s_ago": None if self.updated_at is None else round(now - self.updated_at, 1),
        }


class Watcher:
    """Reads the endpoints every couple of seconds until :meth:`stop`."""

    def __init__(
        self,
        endpoints: dict[str, str],
        kafka_bootstrap: str | None,
        dlq_topic: str,
    ) -> None:
        self.endpoints = endpoints
        self.kafka_bootstrap = kafka_bootstrap
        self.dlq_topic = dlq_topic
        self.state = PipelineState(workers=[Worker(n, u) for n, u in endpoints.items()])
        self._rates = {name: Rate(window_s=30.0) for name in RATES}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_dlq = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="web-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.state.as_json()

    def _run(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(1.5)) as client:
            while not self._stop.is_set():
                try:
                    self.poll(client)
                except Exception:  # a bad reading must not end the thread
                    log.exception("pipeline watcher: reading failed")
                self._stop.wait(METRICS_EVERY_S)

    def poll(self, client: httpx.Client) -> None:
        now = time.monotonic()
        wall = time.time()
        readings = {name: scrape(url, client) for name, url in self.endpoints.items()}
        dead = None
        if self.kafka_bootstrap and now - self._last_dlq >= DEAD_LETTERS_EVERY_S:
            self._last_dlq = now
            dead = read_dead_letters(self.kafka_bootstrap, self.dlq_topic)
        with self._lock:
            for worker in self.state.workers:
                metrics = readings.get(worker.name) or {}
                worker.up = bool(metrics)
                if metrics:
                    worker.last_seen = wall
                    started = metrics.get("process_start_time_seconds")
                    worker.uptime_s = round(wall - started, 0) if started else None
            for label, (worker_name, counter) in RATES.items():
                value = (readings.get(worker_name) or {}).get(counter)
                self.state.totals[label] = value
                self.state.rates[label] = (
                    None if value is None else _rounded(self._rates[label].add(now, value))
                )
            self.state.consumer_lag = (readings.get("classify") or {}).get(
                "tapewatch_classify_consumer_lag"
            )
            if dead is not None:
                self.state.dead_letters = dead
            self.state.updated_at = wall


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
