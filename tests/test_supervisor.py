"""The supervisor's restarts: a worker that crashes now and then is restarted at once, a tight
crash loop is backed off exponentially, and the supervisor says why it waits. The restart
policy is pure and tested on its own; the supervisor is tested with real child processes."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tapewatch.local.proc import child_setup, terminate
from tapewatch.restarts import CrashHistory, SupervisorConfig
from tapewatch.supervisor import ChildSpec, Supervisor
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
