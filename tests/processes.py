"""What a test sees of the processes a command started: its descendants, and which outlive it."""

from __future__ import annotations

import time
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` right now, grandchildren included."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found |= {int(entry.name)} | descendants(int(entry.name))
    return found


def survivors(pids: set[int], timeout: float) -> list[str]:
    """The processes of ``pids`` still running after up to ``timeout`` seconds, described.

    A zombie counts as gone: it has exited and holds nothing, and whether the machine's init
    reaps orphans is not ours to test. An orphan still exiting gets the timeout to finish.
    """

    def running(pid: int) -> str | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return None
        name, rest = stat.split(" (", 1)[1].rsplit(") ", 1)
        state, ppid = rest.split()[:2]
        return None if state == "Z" else f"{pid} ({name}, state {state}, parent {ppid}): {cmdline}"

    deadline = time.monotonic() + timeout
    while True:
        alive = [d for d in map(running, sorted(pids)) if d is not None]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.5)
