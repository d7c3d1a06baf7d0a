"""The Pipeline page's worker table: what the supervisor says (state, restarts) joined with what
the workers' metrics endpoints say (answering or not, uptime).

Without a supervisor (``tapewatch web`` on its own, Docker) only the endpoints speak; with one,
every supervised worker is listed, also those without a metrics endpoint (web, demo).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tapewatch import worker_states


def workers(watched: list[dict[str, Any]], states_path: Path | None) -> list[dict[str, Any]]:
    supervised = worker_states.read(states_path) if states_path is not None else None
    by_name = {w["name"]: dict(w, supervised=False, restarts=None) for w in watched}
    if supervised is None:
        return list(by_name.values())
    out = []
    for s in supervised:
        row = by_name.pop(s["name"], {"name": s["name"], "metrics_url": None, "seen_s_ago": None})
        metrics_state = row.get("state")
        row |= {
            "supervised": True,
            # The supervisor knows a worker is restarting; the endpoint only that it is silent.
            "state": s.get("state", "stopped"),
            "detail": s.get("detail"),
            "pid": s.get("pid"),
            "restarts": s.get("restarts", 0),
            "metrics": metrics_state,
            "uptime_s": row.get("uptime_s") or s.get("uptime_s"),
        }
        out.append(row)
    return out + list(by_name.values())
