"""Process helpers shared by the local service runners."""

from __future__ import annotations

import ctypes
import logging
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1

log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def child_setup(
    *, user: str | None = None, death_signal: int = signal.SIGTERM
) -> Callable[[], None]:
    """A ``preexec_fn`` that drops to ``user`` and asks the kernel to signal the child when we die.

    The death signal is what guarantees no orphan JVM or postmaster outlives a killed test run
    or supervisor. It must be set after the uid change, which would otherwise clear it.
    """
    account = pwd.getpwnam(user) if user else None

    def _setup() -> None:
        os.setsid()
        if account is not None:
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)

    return _setup


def terminate(proc: subprocess.Popen[bytes], *, sig: int, timeout: float) -> None:
    """Ask ``proc`` to stop with ``sig``; kill its whole process group if it has not gone after
    ``timeout`` seconds.

    Every child we start leads its own session (see ``child_setup``), so its process group holds
    what it forked too: a postmaster killed alone would leave its backends behind as orphans.
    The group is signalled while the leader is still unreaped, so its id cannot have been reused.
    """
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning(
            "%s did not stop within %.0f s of signal %d; killing its process group",
            Path(str(proc.args[0] if isinstance(proc.args, list | tuple) else proc.args)).name,
            timeout,
            sig,
        )
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait(timeout=10)


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
