"""The dashboard served for real (uvicorn on a free loopback port, in a thread) for the tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from tapewatch.local.proc import free_port
from web.app import create_app
from web.context import WebContext


@contextmanager
def serve(ctx: WebContext, *, watch: bool = False) -> Iterator[str]:
    """Serve ``ctx``'s app until the block ends; yields its base URL."""
    port = free_port()
    app = create_app(ctx, watch=watch)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def get(base: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(base + path, timeout=10, **kwargs)  # type: ignore[arg-type]
