"""Liveness and readiness of a worker over HTTP: ``GET /healthz`` and ``GET /readyz``.

``/healthz`` (liveness) answers 503 only when restarting the worker would help: a classify
worker that has made no progress for ``classify_stall_s`` while it had a backlog. A worker that
waits on PostgreSQL or Kafka is alive: a restart cannot bring the database back. ``/readyz``
(readiness) answers 503 while the worker cannot do its job yet or right now (the model still
loading, no partitions, the database away). Both return a JSON object with the reasons, so the
supervisor's log line and a ``curl`` say *why*.

The server runs on its own thread, so it keeps answering when the worker's event loop is stuck,
which is exactly when liveness matters.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)


class HealthConfig(BaseModel):
    """Health endpoints and stall detection (``TAPEWATCH_HEALTH__*``)."""

    host: str = Field(default="127.0.0.1", description="Address the health endpoints bind.")
    ingest_port: int = Field(default=9131, ge=0, description="Ingest /healthz, /readyz (0: off).")
    classify_port: int = Field(
        default=9132,
        ge=0,
        description="Classify /healthz, /readyz (0: off); a worker in slot n adds n.",
    )
    alerts_port: int = Field(default=9133, ge=0, description="Alerts /healthz, /readyz (0: off).")
    classify_stall_s: float = Field(
        default=60.0,
        gt=0,
        description="A classify worker with a backlog and no batch done for this long is "
        "stalled: /healthz fails and the supervisor restarts it.",
    )
    pipeline_blind_s: float = Field(
        default=180.0,
        gt=0,
        description="Headlines waiting this long with nothing classified, or every feed "
        "failing with nothing ingested for this long: the alerts worker sends a pipeline alert.",
    )


@dataclass
class Verdict:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    detail: dict[str, object] = field(default_factory=dict)

    def body(self) -> bytes:
        return json.dumps(
            {"status": "ok" if self.ok else "failing", "reasons": self.reasons} | self.detail
        ).encode()


Check = Callable[[], Verdict]


def always_ok() -> Verdict:
    return Verdict(True)


class ProgressTracker:
    """What a classify worker last did, for its liveness and readiness.

    Updated from the worker's event loop, read from the health thread; plain attribute writes
    are atomic enough for a monitor.
    """

    def __init__(self, stall_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_s = stall_s
        self.clock = clock
        self.started_at = clock()
        self.last_progress_at = self.started_at
        self.lag = 0
        self.model_loaded = False
        self.partitions = 0
        self.waiting_on: str | None = None  # "database" while writes are being retried

    def progressed(self, lag: int) -> None:
        self.last_progress_at = self.clock()
        self.lag = lag
        self.waiting_on = None

    def liveness(self) -> Verdict:
        idle = self.clock() - self.last_progress_at
        detail: dict[str, object] = {"lag": self.lag, "seconds_since_progress": round(idle, 1)}
        if self.waiting_on is not None:
            # Blocked on a dependency: alive, and a restart would not unblock it.
            return Verdict(True, [f"waiting on the {self.waiting_on}"], detail)
        if self.lag > 0 and idle > self.stall_s:
            return Verdict(
                False,
                [f"stalled: no batch done for {idle:.0f} s with {self.lag} headlines waiting"],
                detail,
            )
        return Verdict(True, [], detail)

    def readiness(self) -> Verdict:
        reasons = []
        if not self.model_loaded:
            reasons.append("model loading")
        if self.partitions == 0:
            reasons.append("no partitions assigned")
        if self.waiting_on is not None:
            reasons.append(f"waiting on the {self.waiting_on}")
        live = self.liveness()
        reasons += [] if live.ok else live.reasons
        return Verdict(not reasons, reasons, {"partitions": self.partitions, **live.detail})


class HealthServer:
    """Serves ``/healthz`` and ``/readyz`` from two checks on a daemon thread."""

    def __init__(
        self, host: str, port: int, *, liveness: Check = always_ok, readiness: Check = always_ok
    ) -> None:
        checks = {"/healthz": liveness, "/readyz": readiness}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass  # probes every few seconds would drown the worker's log

            def do_GET(self) -> None:
                check = checks.get(self.path.split("?")[0])
                if check is None:
                    self.send_error(404)
                    return
                try:
                    verdict = check()
                except Exception as exc:  # a broken check is a failing check, not a dead server
                    verdict = Verdict(False, [f"check failed: {exc!r}"])
                body = verdict.body()
                self.send_response(200 if verdict.ok else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )

    def start(self) -> HealthServer:
        self._thread.start()
        log.info(
            "health endpoints on http://%s:%d/healthz and /readyz", *self._server.server_address[:2]
        )
        return self

    @classmethod
    def start_or_warn(
        cls, host: str, port: int, *, liveness: Check = always_ok, readiness: Check = always_ok
    ) -> HealthServer | None:
        """Start serving; a port already taken is logged, not fatal: the worker still does its
        job, and a supervisor probing that port sees no answer and says so."""
        try:
            return cls(host, port, liveness=liveness, readiness=readiness).start()
        except OSError as exc:
            log.error("health endpoints not served: %s:%d is unavailable (%s)", host, port, exc)
            return None

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
