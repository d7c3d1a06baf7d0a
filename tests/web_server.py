"""The dashboard served for real (uvicorn on a free loopback port, in a thread) for the tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from sqlalchemy.orm import Session

from storage import make_engine, session_scope
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


class Writer:
    """Calls ``write(session, n)`` for n = 0, 1, … every half second, each in its own
    transaction, until the block ends: new rows arriving while a page is open."""

    def __init__(self, database_url: str, write: Callable[[Session, int], None]) -> None:
        self.engine = make_engine(database_url, pool_size=1)
        self.write = write
        self.stop = threading.Event()
        self.written = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            with session_scope(self.engine) as session:
                self.write(session, self.written)
            self.written += 1

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.engine.dispose()
