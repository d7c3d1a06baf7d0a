"""The supervisor's view of its workers, shared through a small JSON file in the state directory.

``tapewatch up`` writes ``<state_dir>/workers.json`` as it supervises (atomically: a reader
never sees half a file); the web dashboard's Pipeline page reads it to show each worker's state
and restart count. A file that has not been rewritten for ``STALE_S`` belongs to a supervisor
that is gone, and is ignored rather than shown as if its workers were still running.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILENAME = "workers.json"
STALE_S = 15.0  # the supervisor rewrites the file every second or so
WRITE_EVERY_S = 1.0


@dataclass(frozen=True)
class WorkerState:
    name: str
    state: str  # "running", "restarting" or "stopped"
    detail: str  # the supervisor's own words, e.g. "restarting in 4 s (crash loop: …)"
    pid: int | None
    restarts: int
    uptime_s: float | None


def path_in(state_dir: Path) -> Path:
    return state_dir / FILENAME


def write(path: Path, workers: list[WorkerState], now: float | None = None) -> None:
    """Replace ``path`` with ``workers``; a failure is logged, never raised (supervising
    matters more than reporting)."""
    doc = {"written_at": time.time() if now is None else now, "pid": os.getpid()}
    doc["workers"] = [asdict(w) for w in workers]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write the worker states to %s: %s", path, exc)


def read(path: Path, now: float | None = None) -> list[dict[str, Any]] | None:
    """The workers in ``path``, or None when there is no fresh file (no supervisor running)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("workers"), list):
        return None
    age = (time.time() if now is None else now) - float(doc.get("written_at") or 0)
    if age > STALE_S:
        return None
    return [w for w in doc["workers"] if isinstance(w, dict) and "name" in w]
