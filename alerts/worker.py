"""``tapewatch worker alerts``: evaluate the rules on a schedule and deliver notifications.

A thin APScheduler shell around ``evaluator.evaluate`` (every ``interval_seconds``, aligned to
interval boundaries) and ``outbox.deliver_due`` (every ``delivery_poll_seconds``). Run as many
of these as you like: the advisory lock and the evaluation log make it one evaluation per
interval, and row locks make it one sender per notification. SIGINT/SIGTERM stop it after
the running jobs finish.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import Counter, Histogram, start_http_server

from alerts.config import AlertsConfig
from alerts.errors import AlertsConfigError
from alerts.evaluator import evaluate, slot_of
from alerts.outbox import deliver_due
from alerts.pipeline import check_pipeline
from alerts.webhook import WebhookSender
from storage.db import make_engine
from tapewatch.health import HealthConfig, HealthServer, Verdict

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tapewatch.settings import Settings

log = logging.getLogger(__name__)

EVALUATIONS = Counter("tapewatch_alert_evaluations_total", "Evaluations run by this process.")
EVALUATION_SECONDS = Histogram("tapewatch_alert_evaluation_seconds", "Time of one evaluation.")
NOTIFICATIONS = Counter(
    "tapewatch_alert_notifications_total", "Delivery attempts by outcome.", ["outcome"]
)


class AlertsWorker:
    """The two scheduled jobs and their shared engine and HTTP client."""

    def __init__(
        self, engine: Engine, config: AlertsConfig, health: HealthConfig | None = None
    ) -> None:
        self.engine = engine
        self.config = config
        self.health = health or HealthConfig()
        secret = config.webhook_secret.get_secret_value().encode() if config.webhook_secret else b""
        self.sender = WebhookSender(secret, timeout_seconds=config.request_timeout_seconds)
        self.scheduler = BackgroundScheduler(timezone=UTC)

    def evaluate_once(self) -> None:
        try:
            with EVALUATION_SECONDS.time():
                if evaluate(self.engine, self.config) is not None:
                    EVALUATIONS.inc()
        except Exception:
            # A failed evaluation (database down) must not kill the schedule; the next runs.
            log.exception("alert evaluation failed")

    def watch_pipeline_once(self) -> None:
        try:
            check_pipeline(self.engine, self.config, self.health.pipeline_blind_s)
        except Exception:
            log.exception("pipeline check failed")

    def liveness(self) -> Verdict:
        if not self.scheduler.running:
            return Verdict(False, ["scheduler not running"])
        return Verdict(True)

    def deliver_once(self) -> None:
        try:
            stats = deliver_due(self.engine, self.config, self.sender)
        except Exception:
            log.exception("notification delivery failed")
            return
        for outcome in ("delivered", "retrying", "failed"):
            NOTIFICATIONS.labels(outcome).inc(getattr(stats, outcome))

    def start(self) -> None:
        interval = self.config.interval_seconds
        # Start on the next interval boundary so evaluations line up with their slots.
        first = slot_of(datetime.now(UTC), interval) + timedelta(seconds=interval)
        self.scheduler.add_job(
            self.evaluate_once,
            IntervalTrigger(seconds=interval, start_date=first, timezone=UTC),
            id="evaluate",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=interval,
        )
        self.scheduler.add_job(
            self.deliver_once,
            IntervalTrigger(seconds=self.config.delivery_poll_seconds, timezone=UTC),
            id="deliver",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(
            self.watch_pipeline_once,
            # A tenth of the blind time: the alert goes out soon after the pipeline goes blind.
            IntervalTrigger(seconds=max(1.0, self.health.pipeline_blind_s / 10), timezone=UTC),
            id="pipeline",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)
        self.sender.close()


def run(settings: Settings) -> None:
    """Block until SIGINT/SIGTERM, evaluating and delivering on schedule."""
    config = settings.alerts
    if config.receivers and config.webhook_secret is None:
        raise AlertsConfigError("receivers need TAPEWATCH_ALERTS__WEBHOOK_SECRET")
    engine = make_engine(settings.resolved_database_url())
    if config.metrics_port:
        start_http_server(config.metrics_port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker = AlertsWorker(engine, config, settings.health)
    worker.start()
    health = settings.health
    server = (
        HealthServer.start_or_warn(
            health.host, health.alerts_port, liveness=worker.liveness, readiness=worker.liveness
        )
        if health.alerts_port
        else None
    )
    log.info(
        "alerts worker started: every %ds, %d receiver(s)",
        config.interval_seconds,
        len(config.receivers),
    )
    try:
        stop.wait()
    finally:
        log.info("alerts worker stopping")
        if server is not None:
            server.stop()
        worker.stop()
        engine.dispose()
    log.info("alerts worker stopped")
