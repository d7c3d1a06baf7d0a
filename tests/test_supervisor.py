"""The supervisor's restarts: a worker that crashes now and then is restarted at once, a tight
crash loop is backed off exponentially, and the supervisor says why it waits. The restart
policy is pure and tested on its own; the supervisor is tested with real child processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tapewatch.local.proc import child_setup, free_port, terminate, wait_until
from tapewatch.restarts import CrashHistory, SupervisorConfig
from tapewatch.settings import Settings
from tapewatch.supervisor import (
    MODEL_MARKER,
    ChildSpec,
    Supervisor,
    UpOptions,
    available_memory_mb,
    lock_holder,
    plan_children,
    standbys_that_fit,
)
from tests.processes import descendants, survivors

CONFIG = SupervisorConfig(free_restarts=3, crash_window_s=60, backoff_initial_s=2, backoff_max_s=8)


def test_occasional_crashes_restart_at_once() -> None:
    history = CrashHistory(CONFIG)
    # One crash every 25 s for ten minutes: never more than three in a minute.
    for n in range(24):
        decision = history.record_exit(25.0 * n, 25.0, "exited with code -9")
        assert decision.delay_s == 0, decision.reason
        assert "restarting at once" in decision.reason


def test_a_tight_crash_loop_backs_off_exponentially_up_to_the_cap_and_says_why() -> None:
    history = CrashHistory(CONFIG)
    delays = [history.record_exit(0.5 * n, 0.4, "exited with code 1").delay_s for n in range(8)]
    assert delays == [0, 0, 0, 2, 4, 8, 8, 8]
    decision = history.record_exit(5.0, 0.4, "exited with code 1")
    assert "crash loop" in decision.reason and "waiting 8 s" in decision.reason
    assert "exited with code 1 after 0.4 s" in decision.reason


def test_a_crash_loop_is_forgiven_once_the_window_has_passed() -> None:
    history = CrashHistory(CONFIG)
    for n in range(6):
        history.record_exit(float(n), 0.5, "exited with code 1")
    assert history.record_exit(6.0, 0.5, "exited with code 1").delay_s > 0
    # A minute later the old exits have left the window.
    assert history.record_exit(70.0, 60.0, "exited with code 1").delay_s == 0


def _run(supervisor: Supervisor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        supervisor.check()
        time.sleep(0.05)


def test_the_supervisor_restarts_a_crashing_child_at_once_then_backs_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "starts"
    # Each start appends a line, then the child dies at once: a crash loop.
    code = f"open({str(marker)!r}, 'a').write('x\\n'); raise SystemExit(3)"
    spec = ChildSpec("crasher", [sys.executable, "-c", code], {})
    supervisor = Supervisor([spec], tmp_path / "logs", CONFIG)
    caplog.set_level(logging.INFO, logger="tapewatch.supervisor")
    supervisor.start()
    try:
        _run(supervisor, 3.0)
        child = supervisor.children[0]
        # Three immediate restarts after the first start, then a 2 s wait that has begun.
        assert marker.read_text().count("x") >= 4
        assert child.restarts >= 3
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("restarting at once" in m for m in warnings[:3])
        assert any("crash loop, waiting 2 s" in m for m in warnings)
        assert "exited with code 3" in warnings[0]
        # Now in the 4 s wait after the second restart past the allowance; the status says why.
        assert child.restart_at is not None
        (state,) = [state for name, state in supervisor.status() if name == "crasher"]
        assert state.startswith("restarting in ") and "crash loop" in state
    finally:
        supervisor.stop(grace_s=2)


def test_a_killed_child_is_back_within_a_second(tmp_path: Path) -> None:
    spec = ChildSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {})
    supervisor = Supervisor([spec], tmp_path / "logs", CONFIG)
    supervisor.start()
    try:
        child = supervisor.children[0]
        for _ in range(3):
            first = child.proc
            assert first is not None
            first.kill()
            first.wait()
            killed_at = time.monotonic()
            while child.proc is first:
                supervisor.check()
                time.sleep(0.02)
            assert time.monotonic() - killed_at < 1.0
            assert child.proc is not None and child.proc.poll() is None
        assert child.restarts == 3
    finally:
        supervisor.stop(grace_s=2)


def test_a_child_that_ignores_its_stop_signal_is_killed_with_everything_it_forked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A service that hangs on shutdown (a postmaster stuck in its checkpoint, say) is killed
    with its whole process group, so none of its own children are left behind as orphans."""
    ready = tmp_path / "ready"
    script = f"trap '' TERM; sleep 300 & sleep 300 & touch {ready}; wait"
    proc = subprocess.Popen(["sh", "-c", script], preexec_fn=child_setup())
    deadline = time.monotonic() + 10
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    forked = descendants(proc.pid)
    assert len(forked) == 2  # the two sleeps
    with caplog.at_level(logging.WARNING):
        terminate(proc, sig=signal.SIGTERM, timeout=1)
    assert proc.returncode == -signal.SIGKILL
    assert survivors(forked | {proc.pid}, 5) == []
    assert "did not stop within 1 s of signal 15; killing its process group" in caplog.text


# A stand-in for a classify worker with a standby: "--standby" loads for a while first; either
# then waits on the slot's lock and, once it holds it, serves /healthz (never before: a standby
# beside a live worker would collide on the port) and says so in the shared log.
SLOT_HOLDER = """
import fcntl, os, sys, time
from tapewatch.health import HealthServer
lock_path, port = sys.argv[1], int(sys.argv[2])
time.sleep(0.5 if "--standby" in sys.argv else 4 if "--slow" in sys.argv else 0)  # the model
lock = open(lock_path, "a")
fcntl.flock(lock, fcntl.LOCK_EX)
print(f"pid {os.getpid()} took the slot", flush=True)
HealthServer("127.0.0.1", port).start()
time.sleep(120)
"""

PROBED = SupervisorConfig(
    free_restarts=3,
    crash_window_s=60,
    backoff_initial_s=2,
    backoff_max_s=8,
    liveness_interval_s=0.2,
    liveness_failures=2,
    liveness_grace_s=3.0,  # a Python start on a loaded machine
)


def _pair(
    tmp_path: Path,
    config: SupervisorConfig = PROBED,
    *,
    standbys: int = 1,
    worker_args: tuple[str, ...] = (),
) -> Supervisor:
    port = free_port()
    lock = tmp_path / "slot.lock"
    argv = [sys.executable, "-c", SLOT_HOLDER, str(lock), str(port)]
    url = f"http://127.0.0.1:{port}/healthz"
    specs = [ChildSpec("worker", [*argv, *worker_args], {}, health_url=url, slot_lock=lock)]
    specs += [
        ChildSpec(f"worker-standby-{n}", [*argv, "--standby"], {}, standby_for="worker")
        for n in range(standbys)
    ]
    return Supervisor(specs, tmp_path / "logs", config)


def _took_slot(supervisor: Supervisor, pid: int) -> bool:
    supervisor.check()
    log = supervisor.children[0].log_path
    return log.exists() and f"pid {pid} took the slot" in log.read_text()


def test_a_waiting_standby_is_never_probed_nor_killed(tmp_path: Path) -> None:
    """It serves no health port while it waits; only the worker holding the slot is probed."""
    supervisor = _pair(tmp_path)
    supervisor.start()
    try:
        worker, standby = supervisor.children
        _run(supervisor, 6.0)  # well past the grace, fifteen probes
        assert worker.restarts == standby.restarts == 0
        assert worker.probe_failures == standby.probe_failures == 0
        assert standby.running() and worker.running()
        (state,) = [s for name, s in supervisor.status() if name == "worker-standby-0"]
        assert state.startswith("standby for worker (pid ")
        # One log for both: the standby's process becomes the worker's when promoted.
        assert standby.log_path == worker.log_path == tmp_path / "logs" / "worker.log"
    finally:
        supervisor.stop(grace_s=2)


def test_when_the_worker_dies_its_standby_takes_its_place_and_a_new_standby_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = _pair(tmp_path)
    caplog.set_level(logging.INFO, logger="tapewatch.supervisor")
    supervisor.start()
    try:
        worker, standby = supervisor.children
        for round_ in range(1, 3):
            dead, waiting = worker.proc, standby.proc
            assert dead is not None and waiting is not None
            assert wait_until(lambda p=dead.pid: _took_slot(supervisor, p), timeout=10)
            _run(supervisor, 1.0)  # the new standby has loaded and waits too
            dead.kill()
            dead.wait()
            supervisor.check()
            # The waiting process is the worker now; a fresh process is the standby.
            assert worker.proc is waiting and worker.restarts == round_
            assert standby.proc is not None and standby.proc not in (dead, waiting)
            assert standby.running() and standby.restarts == round_
            assert wait_until(lambda p=waiting.pid: _took_slot(supervisor, p), timeout=5)
            # Probed as the worker once its grace has passed, and healthy: left alone.
            _run(supervisor, 4.0)
            assert worker.proc is waiting and waiting.poll() is None
            assert worker.probe_failures == 0
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            "worker exited with code -9 after" in m
            and "its standby (pid" in m
            and "takes over; starting at once (1 of 3 quick restarts in 60 s) the new standby" in m
            for m in warnings
        ), warnings
    finally:
        supervisor.stop(grace_s=2)


def test_without_a_live_standby_the_worker_is_restarted_cold(tmp_path: Path) -> None:
    supervisor = _pair(tmp_path)
    supervisor.start()
    try:
        worker, standby = supervisor.children
        dead, gone = worker.proc, standby.proc
        assert dead is not None and gone is not None
        for proc in (gone, dead):
            proc.kill()
            proc.wait()
        supervisor.check()
        assert worker.proc is not None and worker.proc not in (dead, gone) and worker.running()
        assert standby.proc is not None and standby.proc not in (dead, gone) and standby.running()
        assert worker.restarts == standby.restarts == 1
    finally:
        supervisor.stop(grace_s=2)


def test_a_crash_loop_backs_off_the_new_standby_not_the_takeover(tmp_path: Path) -> None:
    """Past the quick restarts the standby still takes over at once; what waits is the start
    of its replacement."""
    config = PROBED.model_copy(update={"free_restarts": 0})
    supervisor = _pair(tmp_path, config)
    supervisor.start()
    try:
        worker, standby = supervisor.children
        dead, waiting = worker.proc, standby.proc
        assert dead is not None and waiting is not None
        dead.kill()
        dead.wait()
        supervisor.check()
        assert worker.proc is waiting
        assert standby.proc is None and standby.restart_at is not None
        (state,) = [s for name, s in supervisor.status() if name == "worker-standby-0"]
        assert state.startswith("restarting in 2 s") and "crash loop" in state
    finally:
        supervisor.stop(grace_s=2)


def test_the_worker_is_whichever_process_holds_the_slot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A standby that was warm before the worker took the slot is the worker: the supervisor
    swaps them (and so probes and kills the right one); with two standbys, the one the kernel
    woke is promoted."""
    supervisor = _pair(tmp_path, standbys=2, worker_args=("--slow",))
    caplog.set_level(logging.INFO, logger="tapewatch.supervisor")
    supervisor.start()
    lock = tmp_path / "slot.lock"
    try:
        worker = supervisor.children[0]
        slow = worker.proc
        assert slow is not None

        def settled() -> bool:
            supervisor.check()
            return worker.proc is not None and worker.proc.pid == lock_holder(lock)

        assert wait_until(settled, timeout=10)
        assert worker.proc is not slow  # a standby was first
        assert any(
            "(a standby) holds its slot; it is the worker now" in r.getMessage()
            for r in caplog.records
        )
        assert slow in [c.proc for c in supervisor.children[1:]]
        for _ in range(3):
            _run(supervisor, 2.0)  # the others have warmed up and wait
            dead = worker.proc
            assert dead is not None
            dead.kill()
            dead.wait()
            assert wait_until(settled, timeout=5)
            assert worker.proc is not dead and worker.running()
            assert all(c.running() for c in supervisor.children)
        assert len({c.proc.pid for c in supervisor.children if c.proc}) == 3
    finally:
        supervisor.stop(grace_s=2)


def test_up_runs_as_many_standbys_as_asked_for_and_the_memory_holds(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / MODEL_MARKER).write_text("{}")
    settings = Settings(model_dir=model, state_dir=tmp_path / "state")
    options = UpOptions(demo=False, feeds=False)

    def classify_specs(settings: Settings) -> dict[str, ChildSpec]:
        plan = plan_children(settings, options, "127.0.0.1:1", "postgresql://x")
        return {s.name: s for s in plan.specs if s.name.startswith("classify")}

    def with_classify(**update: object) -> Settings:
        return settings.model_copy(update={"classify": settings.classify.model_copy(update=update)})

    specs = classify_specs(settings)
    if standbys_that_fit(settings, available_memory_mb())[0]:
        assert set(specs) == {"classify", "classify-standby"}
        standby = specs["classify-standby"]
        assert standby.argv[-1] == "--standby" and standby.health_url is None
        assert standby.standby_for == "classify"
        assert standby.env["TAPEWATCH_CLASSIFY__WORKER_SLOT"] == "0"
        assert specs["classify"].env["TAPEWATCH_CLASSIFY__WORKER_SLOT"] == "0"
        lock = specs["classify"].slot_lock
        assert lock == tmp_path / "state/classify-slots/tapewatch-classify/slot-0.lock"
    assert set(classify_specs(with_classify(standby=False))) == {"classify"}
    assert classify_specs(with_classify(standby=False))["classify"].slot_lock is None
    assert standbys_that_fit(settings, 10_000) == (1, "")
    assert standbys_that_fit(with_classify(standby_count=3), 10_000) == (3, "")
    # The worker needs its share too: 2,500 MB hold it and one standby of 1,024 MB.
    fit, why = standbys_that_fit(with_classify(standby_count=3), 2500)
    assert fit == 1 and "1 of 3: 2500 MB of memory available" in why
    fit, why = standbys_that_fit(settings, 1500)
    assert fit == 0 and "0 of 1" in why
    assert standbys_that_fit(settings, None) == (1, "")  # unknown memory: trust the setting
    assert standbys_that_fit(with_classify(static_membership=False), 10_000)[0] == 0


def test_lock_holder_names_the_process_holding_the_slot(tmp_path: Path) -> None:
    from classify.slots import claim_slot, slot_path

    path = slot_path(tmp_path, 0)
    assert lock_holder(path) is None  # no file yet
    slot = claim_slot(tmp_path, 0)
    assert lock_holder(path) == os.getpid()
    slot.release()
    assert lock_holder(path) is None
