"""The ingest worker (``tapewatch worker ingest``): feeds on a schedule, a replay file, the
push endpoint, Prometheus metrics; graceful shutdown on SIGINT/SIGTERM.

Shutdown order: stop scheduling and wait for running polls (each bounded by the hard timeout),
stop the push endpoint and the replay, then flush the Kafka producer, so that nothing that was
confirmed to a source is left in a buffer.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType
from wsgiref.simple_server import WSGIServer

from kafka.errors import KafkaError
from prometheus_client import start_http_server

from ingest.dedupe import SeenStore, SimIndex
from ingest.feed_state import FeedStateStore
from ingest.fetch import Fetcher
from ingest.metrics import IngestMetrics
from ingest.pipeline import Pipeline
from ingest.producer import HeadlinePublisher
from ingest.scheduler import build_scheduler
from ingest.sources.push import PushServer
from ingest.sources.replay import ReplaySource
from ingest.sources.rss import FeedPoller
from storage.db import make_engine
from tapewatch.health import HealthServer, Verdict
from tapewatch.settings import Settings
from tapewatch.topics import ensure_topics

log = logging.getLogger(__name__)


class IngestWorker:
    """Everything ingest runs, wired from the settings; ``start`` then ``stop``."""

    def __init__(self, settings: Settings) -> None:
        config = settings.ingest
        self.settings = settings
        self.stop_event = threading.Event()
        self.metrics = IngestMetrics()
        self.engine = make_engine(
            settings.resolved_database_url(), pool_size=max(5, len(config.effective_feeds()) + 2)
        )
        self.store = SeenStore(
            self.engine,
            SimIndex(
                config.near_duplicate_max_distance,
                window=timedelta(hours=config.cluster_window_hours),
            ),
        )
        self.bootstrap = settings.resolved_kafka_bootstrap()
        self.publisher = HeadlinePublisher(self.bootstrap, settings.topic_raw, config)
        self.pipeline = Pipeline(config, self.store, self.publisher, self.metrics)
        self.fetcher = Fetcher(config, self.stop_event)
        self.states = FeedStateStore(self.engine)
        self.pollers = [
            FeedPoller(
                spec,
                config=config,
                fetcher=self.fetcher,
                pipeline=self.pipeline,
                states=self.states,
                metrics=self.metrics,
            )
            for spec in config.effective_feeds()
        ]
        self.scheduler = build_scheduler(
            self.pollers, hard_timeout_s=config.hard_timeout_s, metrics=self.metrics
        )
        self.push: PushServer | None = None
        if config.push_enabled:
            self.push = PushServer(
                self.pipeline,
                self.metrics,
                host=config.push_host,
                port=config.push_port,
                max_items=config.push_max_items,
            )
        self.replay: ReplaySource | None = None
        if config.replay_path is not None:
            self.replay = ReplaySource(
                config.replay_path,
                name=config.replay_source,
                pipeline=self.pipeline,
                metrics=self.metrics,
                stop=self.stop_event,
                speedup=config.replay_speedup,
                progress=config.replay_progress,
            )
        self._replay_thread: threading.Thread | None = None
        self._metrics_server: WSGIServer | None = None
        self.metrics_port: int | None = None
        self._health: HealthServer | None = None

    def start(self) -> None:
        config = self.settings.ingest
        try:
            ensure_topics(self.bootstrap, self.settings)
        except KafkaError as exc:  # e.g. no admin rights: the topics may exist all the same
            log.warning("ingest: could not ensure topics exist: %s", exc)
        loaded = self.store.load_recent(datetime.now(UTC))
        log.info("ingest: %d recent headlines loaded for near-duplicate detection", loaded)
        server, _thread = start_http_server(config.metrics_port, registry=self.metrics.registry)
        self._metrics_server = server
        self.metrics_port = server.server_port
        if self.push is not None:
            self.push.start()
        if self.replay is not None:
            self._replay_thread = threading.Thread(
                target=self.replay.run, name="ingest-replay", daemon=True
            )
            self._replay_thread.start()
        self.scheduler.start()
        health = self.settings.health
        if health.ingest_port:
            self._health = HealthServer.start_or_warn(
                health.host, health.ingest_port, liveness=self.liveness, readiness=self.liveness
            )
        log.info(
            "ingest: %d feeds, replay %s, push %s, metrics on :%d, publishing to %s on %s",
            len(self.pollers),
            config.replay_path or "off",
            f"{config.push_host}:{self.push.port}" if self.push else "off",
            self.metrics_port,
            self.settings.topic_raw,
            self.bootstrap,
        )

    def liveness(self) -> Verdict:
        """Alive while the poll scheduler runs; feeds failing is counted, not fatal."""
        if not self.scheduler.running:
            return Verdict(False, ["poll scheduler not running"])
        return Verdict(True)

    def stop(self) -> None:
        log.info("ingest: stopping")
        if self._health is not None:
            self._health.stop()
        self.stop_event.set()
        if self.scheduler.running:
            # Waits for polls in progress; each is bounded by the hard timeout.
            self.scheduler.shutdown(wait=True)
        if self.push is not None:
            self.push.stop()
        if self._replay_thread is not None:
            self._replay_thread.join(timeout=self.settings.ingest.delivery_timeout_s)
        self.publisher.close()
        self.fetcher.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        self.engine.dispose()
        log.info("ingest: stopped; producer flushed")


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run the ingest worker until SIGINT/SIGTERM (or ``stop`` is set)."""
    worker = IngestWorker(settings)
    stop = stop or worker.stop_event
    if threading.current_thread() is threading.main_thread():

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("ingest: received %s", signal.Signals(signum).name)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _on_signal)
    worker.start()
    try:
        stop.wait()
    finally:
        worker.stop()
