"""The demo's webhook receiver: verifies signed alert notifications and shows what it got.

Run by ``tapewatch up`` as ``python -m tapewatch.demo.receiver``, on the loopback interface
only. ``POST /alerts`` takes the alerts worker's native payload; the HMAC signature over
timestamp and body is checked with the shared secret (``TAPEWATCH_ALERTS__WEBHOOK_SECRET`` in
the environment, generated per run by ``tapewatch up`` unless you set one), stale or unsigned
requests get 401, and a repeat of an idempotency key is acknowledged but not stored twice.
Each accepted notification is appended to a JSON Lines file (what the live view and the tests
read) and logged in one line. ``GET /`` is a small page listing them, newest first.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from alerts.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

# Run with -m, __name__ is "__main__": name the logger after the module all the same.
log = logging.getLogger("tapewatch.demo.receiver")

SECRET_ENV = "TAPEWATCH_ALERTS__WEBHOOK_SECRET"
MAX_BODY_BYTES = 1_000_000
PAGE_LIMIT = 50


def read_received(path: Path) -> list[dict[str, Any]]:
    """Every notification the receiver stored, oldest first (skips a half-written last line)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    received = []
    for line in lines:
        try:
            received.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return received


class AlertLog:
    """The JSON Lines file of received notifications, and the idempotency keys seen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._keys = {r.get("idempotency_key") for r in read_received(path)}

    def add(self, key: str, payload: dict[str, Any]) -> bool:
        """Store one notification; False if its idempotency key was already stored."""
        with self._lock:
            if key in self._keys:
                return False
            record = {
                "received_at": datetime.now(UTC).isoformat(),
                "idempotency_key": key,
                "payload": payload,
            }
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            self._keys.add(key)
            return True


def describe(payload: dict[str, Any]) -> str:
    """One line for the log and the page: event and summary."""
    event = str(payload.get("event", "?")).upper()
    return f"{event}: {payload.get('summary', '(no summary)')}"


def _page(records: list[dict[str, Any]]) -> bytes:
    rows = []
    for record in reversed(records[-PAGE_LIMIT:]):
        payload = record.get("payload", {})
        headlines = payload.get("alert", {}).get("evidence", {}).get("headlines", [])
        items = "".join(f"<li>{html.escape(str(h.get('title', '')))}</li>" for h in headlines)
        rows.append(
            f"<tr><td>{html.escape(str(record.get('received_at', ''))[:19])}</td>"
            f"<td>{html.escape(describe(payload))}<ul>{items}</ul></td></tr>"
        )
    body = "".join(rows) or "<tr><td colspan=2>No alerts yet.</td></tr>"
    return (
        "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=5>"
        "<title>Tapewatch demo receiver</title><h1>Alerts received</h1>"
        f"<table border=1 cellpadding=4><tr><th>received (UTC)</th><th>alert</th></tr>{body}"
        "</table>"
    ).encode()


def make_handler(secret: bytes, alerts: AlertLog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "tapewatch-demo-receiver/1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("receiver: " + format, *args)

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            records = read_received(alerts.path)
            if self.path.startswith("/alerts.json"):
                self._reply(200, json.dumps(records).encode())
            elif self.path in ("/", "/index.html"):
                self._reply(200, _page(records), "text/html; charset=utf-8")
            else:
                self._reply(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(413, b'{"error": "too large"}')
                return
            body = self.rfile.read(length)
            if not verify(
                secret,
                timestamp=self.headers.get(TIMESTAMP_HEADER),
                signature=self.headers.get(SIGNATURE_HEADER),
                body=body,
            ):
                log.warning("receiver: rejected a request with a missing or bad signature")
                self._reply(401, b'{"error": "bad signature"}')
                return
            try:
                payload = json.loads(body)
            except json.JSONDecodeError:
                self._reply(400, b'{"error": "not JSON"}')
                return
            key = self.headers.get(IDEMPOTENCY_HEADER) or str(payload.get("idempotency_key", ""))
            if alerts.add(key, payload):
                log.info("receiver: %s", describe(payload))
            self._reply(200, b'{"ok": true}')

    return Handler


def serve(port: int, secret: bytes, path: Path, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A started server (on its own thread); ``shutdown()`` stops it."""
    server = ThreadingHTTPServer((host, port), make_handler(secret, AlertLog(path)))
    threading.Thread(target=server.serve_forever, name="demo-receiver", daemon=True).start()
    return server


def main(argv: Sequence[str] | None = None) -> None:
    from tapewatch.entry import load_settings

    load_settings()  # logging as every entry point configures it
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="JSON Lines file of alerts")
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret) < 16:
        raise SystemExit(f"{SECRET_ENV} must hold the shared webhook secret (16+ characters)")
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    server = serve(args.port, secret.encode(), args.out)
    log.info(
        "receiver: listening on http://127.0.0.1:%d/alerts, storing to %s", args.port, args.out
    )
    stop.wait()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
