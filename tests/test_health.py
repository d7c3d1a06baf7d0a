"""Liveness and readiness: the classify progress tracker's verdicts (pure, with a fake clock),
the health endpoints over real HTTP, and the supervisor restarting a worker whose /healthz
fails, with the reason in its log line."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import httpx
import pytest

from tapewatch.health import HealthServer, ProgressTracker, Verdict
from tapewatch.local.proc import free_port, wait_until
from tapewatch.restarts import SupervisorConfig
from tapewatch.supervisor import ChildSpec, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_worker_with_a_backlog_and_no_progress_is_stalled_after_the_stall_time() -> None:
    clock = Clock()
    tracker = ProgressTracker(stall_s=60, clock=clock)
    tracker.progressed(lag=500)
    clock.now += 59
    assert tracker.liveness().ok
    clock.now += 2
    verdict = tracker.liveness()
    assert not verdict.ok
    assert verdict.reasons == ["stalled: no batch done for 61 s with 500 headlines waiting"]
    tracker.progressed(lag=436)
    assert tracker.liveness().ok


def test_an_idle_worker_without_backlog_is_alive_however_long_it_waits() -> None:
    clock = Clock()
    tracker = ProgressTracker(stall_s=60, clock=clock)
    tracker.progressed(lag=0)
    clock.now += 3600
    assert tracker.liveness().ok


def test_waiting_on_the_database_is_alive_but_not_ready() -> None:
    clock = Clock()
    tracker = ProgressTracker(stall_s=60, clock=clock)
    tracker.model_loaded, tracker.partitions = True, 6
    tracker.progressed(lag=100)
    assert tracker.readiness().ok
    tracker.waiting_on = "database"
    clock.now += 600  # a restart would not bring PostgreSQL back
    assert tracker.liveness().ok
    ready = tracker.readiness()
    assert not ready.ok and ready.reasons == ["waiting on the database"]


def test_readiness_waits_for_the_model_and_partitions() -> None:
    tracker = ProgressTracker(stall_s=60)
    assert tracker.readiness().reasons == ["model loading", "no partitions assigned"]
    tracker.model_loaded = True
    assert tracker.readiness().reasons == ["no partitions assigned"]
    tracker.partitions = 3
    assert tracker.readiness().ok


def test_the_endpoints_answer_200_or_503_with_reasons() -> None:
    state = {"live": Verdict(True), "ready": Verdict(False, ["model loading"])}

    def broken() -> Verdict:
        raise RuntimeError("boom")

    server = HealthServer(
        "127.0.0.1", 0, liveness=lambda: state["live"], readiness=lambda: state["ready"]
    ).start()
    other = HealthServer("127.0.0.1", 0, liveness=broken).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok", "reasons": []}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "failing", "reasons": ["model loading"]}
        state["live"] = Verdict(False, ["stalled"], {"lag": 7})
        live = httpx.get(f"{base}/healthz")
        assert live.status_code == 503 and live.json()["lag"] == 7
        assert httpx.get(f"{base}/nope").status_code == 404
        failing = httpx.get(f"http://127.0.0.1:{other.port}/healthz")
        assert failing.status_code == 503 and "boom" in failing.json()["reasons"][0]
    finally:
        server.stop()
        other.stop()


# A worker whose /healthz says it is stalled, whatever happens.
STALLED = """
import sys
from tapewatch.health import HealthServer, Verdict
HealthServer("127.0.0.1", int(sys.argv[1]),
             liveness=lambda: Verdict(False, ["stalled: test"])).start()
import time; time.sleep(120)
"""


def test_the_supervisor_restarts_a_worker_that_fails_its_health_check(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    spec = ChildSpec(
        "stuck",
        [sys.executable, "-c", STALLED, str(port)],
        {},
        health_url=f"http://127.0.0.1:{port}/healthz",
    )
    config = SupervisorConfig(liveness_interval_s=0.2, liveness_failures=2, liveness_grace_s=4.0)
    supervisor = Supervisor([spec], tmp_path / "logs", config)
    caplog.set_level(logging.INFO, logger="tapewatch.supervisor")
    supervisor.start()
    child = supervisor.children[0]
    first = child.proc
    try:

        def restarted() -> bool:
            supervisor.check()
            return child.restarts >= 1

        assert wait_until(restarted, timeout=30, interval=0.1)
        assert first is not None and first.returncode == -9
        messages = [r.getMessage() for r in caplog.records]
        assert any(
            "stuck failed its health check 2 times in a row (stalled: test)" in m for m in messages
        ), messages
        assert any("killed as unhealthy (stalled: test) after" in m for m in messages), messages
        assert child.proc is not None and child.proc.poll() is None
    finally:
        supervisor.stop(grace_s=2)


def test_a_healthy_worker_is_left_alone(tmp_path: Path) -> None:
    port = free_port()
    code = (
        "import sys, time; from tapewatch.health import HealthServer; "
        f"HealthServer('127.0.0.1', {port}).start(); time.sleep(120)"
    )
    spec = ChildSpec(
        "fine", [sys.executable, "-c", code], {}, health_url=f"http://127.0.0.1:{port}/healthz"
    )
    config = SupervisorConfig(liveness_interval_s=0.2, liveness_failures=2, liveness_grace_s=4.0)
    supervisor = Supervisor([spec], tmp_path / "logs", config)
    supervisor.start()
    try:
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.1)
        assert supervisor.children[0].restarts == 0
        assert supervisor.children[0].probe_failures == 0
    finally:
        supervisor.stop(grace_s=2)
