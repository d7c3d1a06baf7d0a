"""Two real `tapewatch worker alerts` processes against one database: one evaluation per
interval between them, one notification per alert transition, clean shutdown on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from storage import models
from storage.db import make_engine, session_scope
from tests.test_alerts_support import SECRET, Receiver, Row, seed

BIN = Path(sys.executable).parent / "tapewatch"


def evaluations(engine: Engine) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(models.AlertEvaluation)) or 0


def test_two_workers_evaluate_once_per_interval_and_notify_once(database_url: str) -> None:
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    # Baseline: an hour at 20% negative. Spike: one headline a second from 40 seconds ago on,
    # mostly negative, running 100 seconds on: however long the workers take to start, every
    # evaluation sees the spike in its 60-second window (it must fire, and never resolve).
    start = now - timedelta(seconds=3600)
    rows = [
        Row("Earnings", "negative" if i % 5 == 0 else "neutral", start + timedelta(seconds=6 * i))
        for i in range(590)
    ]
    rows += [
        Row("Earnings", "negative" if i % 10 else "positive", now - timedelta(seconds=40 - i), 0.9)
        for i in range(140)
    ]
    seed(engine, rows)
    receiver = Receiver().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWATCH_")}
    env |= {
        "TAPEWATCH_DATABASE_URL": database_url,
        "TAPEWATCH_LOG_LEVEL": "INFO",
        "TAPEWATCH_ALERTS__METRICS_PORT": "0",
        "TAPEWATCH_HEALTH__ALERTS_PORT": "0",  # two workers on one host
        "TAPEWATCH_ALERTS__INTERVAL_SECONDS": "1",
        "TAPEWATCH_ALERTS__SHORT_WINDOW_SECONDS": "60",
        "TAPEWATCH_ALERTS__LONG_WINDOW_SECONDS": "120",
        "TAPEWATCH_ALERTS__BASELINE_SECONDS": "3600",
        "TAPEWATCH_ALERTS__MIN_COUNT_SHORT": "10",
        "TAPEWATCH_ALERTS__MIN_NEGATIVE_SHORT": "5",
        "TAPEWATCH_ALERTS__MIN_COUNT_LONG": "10",
        "TAPEWATCH_ALERTS__PENDING_SECONDS": "0",
        "TAPEWATCH_ALERTS__DELIVERY_POLL_SECONDS": "0.2",
        "TAPEWATCH_ALERTS__WEBHOOK_SECRET": SECRET,
        "TAPEWATCH_ALERTS__RECEIVERS": f'[{{"name": "ops", "url": "{receiver.url()}"}}]',
    }
    workers = [
        subprocess.Popen([BIN, "worker", "alerts"], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        # Let them run for several intervals (process start-up is slow on a loaded machine).
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and evaluations(engine) < 6:
            time.sleep(0.5)
        time.sleep(1)
        for w in workers:
            w.send_signal(signal.SIGTERM)
        logs = [w.communicate(timeout=30)[1] for w in workers]
    finally:
        receiver.stop()
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert [w.returncode for w in workers] == [0, 0], logs
    assert all("alerts worker stopped" in log for log in logs)

    evaluated = [re.findall(r"evaluated (\S+):", log) for log in logs]
    slots = Counter(s for per_worker in evaluated for s in per_worker)
    # About one evaluation per one-second interval between the two, never two for one slot.
    assert len(slots) >= 6, logs
    assert max(slots.values()) == 1, f"a slot was evaluated twice: {slots}"
    times = sorted(datetime.fromisoformat(s) for s in slots)

    with session_scope(engine) as s:
        logged = list(s.scalars(select(models.AlertEvaluation.slot_at)))
        assert sorted(logged) == times
        alert = s.scalars(select(models.Alert)).one()
        assert (alert.topic, alert.state) == ("Earnings", "firing")
    engine.dispose()
    assert [r.body["event"] for r in receiver.accepted] == ["firing"]
    assert receiver.rejected == Counter()
