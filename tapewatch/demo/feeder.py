"""The demo source: replays labelled headlines into the ingest worker's push endpoint, paced.

Run by ``tapewatch up`` as ``python -m tapewatch.demo.feeder``. It first backfills an hour of
history with past publication times (skipped when the database already holds recent demo
history, so a restart does not double it), then streams headlines at a steady rate, each
stamped with the current time, under the source name ``demo-replay``. Every run gets its own
link prefix, so the ingest seen-set does not drop a headline the previous run already sent.

The feeder holds back while the classifier is behind (its consumer lag, read from its metrics
endpoint, above a few seconds' worth of headlines): the scenario's clock stops, so on a machine
that classifies slower than the demo rate the burst still lands in the alert windows on time
instead of behind an ever-growing backlog.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from tapewatch.demo.generated import generated_pools
from tapewatch.demo.scenario import (
    BURST_TOPIC,
    Planned,
    Scenario,
    Stream,
    has_labelled_data,
    load_pools,
)

# Run with -m, __name__ is "__main__": name the logger after the module all the same.
log = logging.getLogger("tapewatch.demo.feeder")

DEMO_SOURCE = "demo-replay"
LINK_PREFIX = "https://demo.tapewatch.invalid"
TICK_S = 0.25  # push what is due four times a second: paced, without one request per headline
PUSH_CHUNK = 500
RETRY_PAUSE_S = 2.0
LAG_SECONDS = 5.0  # hold back while the classifier is more than this many seconds of stream behind
MIN_MAX_LAG = 100


class Feeder:
    """Pushes the scenario's headlines to ``push_url`` until ``stop`` is set."""

    def __init__(
        self,
        push_url: str,
        scenario: Scenario,
        stream: Stream,
        stop: threading.Event,
        *,
        source: str = DEMO_SOURCE,
        run_id: str | None = None,
        lag_url: str | None = None,
    ) -> None:
        self.push_url = push_url
        self.scenario = scenario
        self.stream = stream
        self.stop = stop
        self.source = source
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.sent = 0
        self.lag_url = lag_url
        self.max_lag = max(MIN_MAX_LAG, int(scenario.rate_per_s * LAG_SECONDS))
        self.held_s = 0.0
        self._client = httpx.Client(timeout=httpx.Timeout(30.0))

    def classifier_lag(self) -> float | None:
        """The classify worker's consumer lag, or None when it cannot be read."""
        if self.lag_url is None:
            return None
        try:
            response = self._client.get(self.lag_url, timeout=2.0)
        except httpx.HTTPError:
            return None
        for line in response.text.splitlines():
            if line.startswith("tapewatch_classify_consumer_lag "):
                return float(line.split()[1])
        return None

    def _doc(self, item: Planned, seq: int, published: datetime) -> dict[str, Any]:
        return {
            "title": item.title,
            "url": f"{LINK_PREFIX}/{self.run_id}/{seq}",
            "published_at": published.isoformat(),
            "source": self.source,
        }

    def push(self, docs: Sequence[dict[str, Any]]) -> bool:
        """Deliver ``docs``, retrying while ingest is busy or restarting; False if stopped."""
        for start in range(0, len(docs), PUSH_CHUNK):
            chunk = list(docs[start : start + PUSH_CHUNK])
            while True:
                try:
                    response = self._client.post(self.push_url, json=chunk)
                    if response.status_code == 202:
                        break
                    problem = f"answered {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}"
                log.debug("demo: push %s; retrying", problem)
                if self.stop.wait(RETRY_PAUSE_S):
                    return False
            self.sent += len(chunk)
        return True

    def wait_for_ingest(self) -> bool:
        health = self.push_url.rsplit("/", 1)[0] + "/healthz"
        while not self.stop.is_set():
            try:
                if self._client.get(health).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            self.stop.wait(0.5)
        return False

    def backfill(self, now: datetime) -> int:
        items = self.stream.backfill()
        docs = [
            self._doc(item, -(i + 1), now + timedelta(seconds=item.offset_s))
            for i, item in enumerate(items)
        ]
        return len(docs) if self.push(docs) else 0

    def run_live(self) -> None:
        started = time.monotonic()
        live = self.stream.live()
        pending = next(live)
        seq = 0
        in_burst = False
        holding = False
        last_lag_check = 0.0
        while not self.stop.is_set():
            if time.monotonic() - last_lag_check >= 1.0:
                last_lag_check = time.monotonic()
                lag = self.classifier_lag()
                if (lag is not None and lag > self.max_lag) != holding:
                    holding = not holding
                    log.info(
                        "demo: %s (classifier lag %.0f)",
                        "holding back until the classifier catches up" if holding else "resuming",
                        lag or 0,
                    )
            if holding:
                # The scenario's clock stands still while we wait.
                started += TICK_S
                self.held_s += TICK_S
                self.stop.wait(TICK_S)
                continue
            elapsed = time.monotonic() - started
            due: list[dict[str, Any]] = []
            now = datetime.now(UTC)
            while pending.offset_s <= elapsed:
                due.append(self._doc(pending, seq, now))
                seq += 1
                pending = next(live)
            if self.scenario.in_burst(elapsed) != in_burst:
                in_burst = not in_burst
                if in_burst:
                    log.info(
                        "demo: scenario: %s turns negative now, for %.0f s",
                        BURST_TOPIC,
                        self.scenario.burst_seconds,
                    )
                else:
                    log.info("demo: scenario: the %s burst is over", BURST_TOPIC)
            if due and not self.push(due):
                return
            self.stop.wait(max(0.0, TICK_S - (time.monotonic() - started - elapsed)))

    def close(self) -> None:
        self._client.close()


def recent_demo_history(database_url: str, source: str, minutes: float) -> int:
    """Stored demo headlines published in the last ``minutes`` (0 if the database is away)."""
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM headlines WHERE source = :source "
                        "AND published_at > now() - make_interval(mins => :minutes)"
                    ),
                    {"source": source, "minutes": int(minutes)},
                ).scalar_one()
            )
    except Exception as exc:  # the demo still runs, it only backfills again
        log.warning("demo: could not read existing history: %s", exc)
        return 0
    finally:
        engine.dispose()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--push-url", required=True)
    parser.add_argument("--rate", type=float, default=Scenario.rate_per_s)
    parser.add_argument("--burst-after", type=float, default=Scenario.burst_after_s)
    parser.add_argument("--burst-seconds", type=float, default=Scenario.burst_seconds)
    parser.add_argument("--burst-share", type=float, default=Scenario.burst_share)
    parser.add_argument("--backfill-minutes", type=float, default=Scenario.backfill_minutes)
    parser.add_argument("--backfill-per-minute", type=float, default=Scenario.backfill_per_minute)
    parser.add_argument("--source", default=DEMO_SOURCE)
    parser.add_argument("--lag-url", help="classify metrics URL: hold back while it lags")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    from tapewatch.entry import load_settings

    settings = load_settings()
    args = parse_args(argv)
    scenario = Scenario(
        rate_per_s=args.rate,
        burst_after_s=args.burst_after,
        burst_seconds=args.burst_seconds,
        burst_share=args.burst_share,
        backfill_minutes=args.backfill_minutes,
        backfill_per_minute=args.backfill_per_minute,
    )
    data_dir = Path(settings.data_dir)
    # The labelled data sets when they are there; otherwise (a fresh clone) our own stream.
    labelled = has_labelled_data(data_dir)
    pools = load_pools(data_dir) if labelled else generated_pools(scenario.seed)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    feeder = Feeder(
        args.push_url,
        scenario,
        Stream(pools, scenario),
        stop,
        source=args.source,
        lag_url=args.lag_url,
    )
    try:
        if not feeder.wait_for_ingest():
            return
        history = recent_demo_history(
            settings.resolved_database_url(), args.source, scenario.backfill_minutes
        )
        if scenario.backfill_minutes > 0 and history < scenario.backfill_count // 2:
            count = feeder.backfill(datetime.now(UTC))
            log.info(
                "demo: backfilled %d headlines over the last %.0f min", count, args.backfill_minutes
            )
        else:
            log.info(
                "demo: %d demo headlines from the last hour already stored; no backfill", history
            )
        log.info(
            "demo: replaying %d %s at %.0f/s as source %s; %s turns negative after %.0f s",
            len(pools.baseline) + len(pools.burst),
            f"labelled headlines from {data_dir}" if labelled else "generated headlines",
            scenario.rate_per_s,
            args.source,
            BURST_TOPIC,
            scenario.burst_after_s,
        )
        feeder.run_live()
    finally:
        feeder.close()
        log.info("demo: stopped after %d headlines", feeder.sent)


if __name__ == "__main__":
    main()
