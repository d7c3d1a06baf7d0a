"""APScheduler set-up: one job per feed with its own interval and jitter.

At most one poll per feed runs at a time (``max_instances=1``), missed runs coalesce into one,
and every poll runs on a thread of its own under a hard timeout: a fetch hung in a way no socket
timeout catches (a stuck DNS lookup, a wedged parser) is abandoned and counted, its job slot is
freed, and every other feed keeps its schedule. Until the hung thread ends, that feed's later
runs are skipped rather than piling up more threads.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ingest.metrics import IngestMetrics
from ingest.sources.rss import FeedPoller

log = logging.getLogger(__name__)


class GuardedPoll:
    """A scheduler job running ``poll`` on its own thread, abandoned after ``hard_timeout_s``."""

    def __init__(
        self,
        name: str,
        poll: Callable[[], object],
        hard_timeout_s: float,
        metrics: IngestMetrics,
    ) -> None:
        self.name = name
        self.poll = poll
        self.hard_timeout_s = hard_timeout_s
        self.metrics = metrics
        self._thread: threading.Thread | None = None

    def __call__(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self.metrics.errors.labels(self.name, "hung").inc()
            log.warning("source %s: an abandoned poll is still running; skipping", self.name)
            return
        thread = threading.Thread(target=self.poll, name=f"poll-{self.name}", daemon=True)
        self._thread = thread
        thread.start()
        thread.join(self.hard_timeout_s)
        if thread.is_alive():
            self.metrics.errors.labels(self.name, "hard_timeout").inc()
            log.error(
                "source %s: poll still running after the %.0fs hard timeout; abandoned",
                self.name,
                self.hard_timeout_s,
            )


def build_scheduler(
    pollers: Sequence[FeedPoller], *, hard_timeout_s: float, metrics: IngestMetrics
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        # A thread per feed: a slow feed occupies its own slot, never another feed's.
        executors={"default": ThreadPoolExecutor(max_workers=max(2, len(pollers) + 1))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
    )
    now = datetime.now(UTC)
    for poller in pollers:
        spec = poller.spec
        scheduler.add_job(
            GuardedPoll(poller.name, poller.poll, hard_timeout_s, metrics),
            IntervalTrigger(seconds=spec.interval_s, jitter=spec.jitter_s or None, timezone=UTC),
            id=poller.name,
            name=poller.name,
            # First poll soon after start, spread by the jitter so feeds do not stampede.
            next_run_time=now + timedelta(seconds=random.uniform(0, spec.jitter_s)),
        )
    return scheduler
