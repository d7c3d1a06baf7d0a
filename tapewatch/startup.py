"""Start-up timings of a worker process, measured from the moment it was exec'd.

The kernel records when a process started (``/proc/self/stat``), so the first milestone already
includes the interpreter's own start and every import before our code ran. A worker logs one
``start-up:`` line per milestone; bench/chaos.py reads them back.
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger(__name__)


def seconds_since_exec() -> float:
    """Seconds since this process started (Linux; elsewhere, since this module was imported)."""
    try:
        with open("/proc/self/stat") as stat:
            # The command name (field 2) may hold spaces; fields after it are plain numbers.
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as uptime:
            now = float(uptime.read().split()[0])
    except (OSError, IndexError, ValueError):
        return time.monotonic() - _IMPORTED_AT
    return now - int(fields[19]) / os.sysconf("SC_CLK_TCK")


def milestone(name: str) -> float:
    """Log that ``name`` was reached; returns the seconds since exec."""
    elapsed = seconds_since_exec()
    log.info("start-up: %s %.2f s after exec", name, elapsed, extra={"startup_" + name: elapsed})
    return elapsed


_IMPORTED_AT = time.monotonic()
