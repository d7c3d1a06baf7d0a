"""HTTP push endpoint (aiohttp.web) for systems that push headlines instead of being polled.

``POST /headlines`` takes one JSON object or a list of them::

    {"title": "...", "url": "https://...", "published_at": "2024-05-01T12:00:00Z",
     "source": "my-wire", "tickers": ["AAPL"]}

Only ``title`` is required; unknown fields are refused. Answers: 202 with the new ids and the
number of duplicates; 400 (not JSON, or nested too deeply to parse), 413 (too large), 422
(invalid, with reasons per item); 503 with Retry-After when Kafka did not confirm (nothing
unconfirmed is marked seen, so the pusher should simply retry). ``GET /healthz`` answers 200.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from ingest.errors import IngestError
from ingest.metrics import IngestMetrics
from ingest.normalize import clean_text
from ingest.pipeline import Pipeline, RawItem
from tapewatch.events import MAX_TITLE_CHARS

log = logging.getLogger(__name__)

PUSH_SOURCE = "push"  # metric label for every push; per-item source names go in the headline
MAX_BODY_BYTES = 4 * 1024 * 1024


class PushedHeadline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS)]
    url: Annotated[str, Field(max_length=2048)] | None = None
    published_at: AwareDatetime | None = None
    source: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    tickers: Annotated[list[Annotated[str, Field(max_length=16)]], Field(max_length=50)] = []

    @field_validator("title")
    @classmethod
    def _has_text(cls, title: str) -> str:
        if not clean_text(title):
            raise ValueError("title has no text once markup and whitespace are removed")
        return title


class BadBody(ValueError):
    """The body is not a JSON document this endpoint can read; ``reason`` labels the metric."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_body(body: bytes) -> object:
    """The JSON document in ``body``; raises :class:`BadBody` with the reason it is refused."""
    try:
        return json.loads(body)
    except RecursionError as exc:
        # json.loads recurses once per level of nesting: 100,000 ``[`` exhaust the interpreter's
        # recursion limit. No headline is nested that deep, so this is the pusher's error.
        raise BadBody("too_deep", "body is nested too deeply to be a headline") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadBody("bad_json", f"body is not JSON: {exc}") from exc
    except ValueError as exc:  # e.g. an integer beyond Python's 4300-digit conversion limit
        raise BadBody("bad_json", f"body is not usable JSON: {exc}") from exc


def _errors(exc: ValidationError, index: int) -> list[dict[str, object]]:
    return [
        {"item": index, "field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]}
        for e in exc.errors()
    ]


class PushServer:
    """Serves the push endpoint on its own thread and event loop."""

    def __init__(
        self,
        pipeline: Pipeline,
        metrics: IngestMetrics,
        *,
        host: str,
        port: int,
        max_items: int,
    ) -> None:
        self.pipeline = pipeline
        self.metrics = metrics
        self.host = host
        self.port = port
        self.max_items = max_items
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # --- HTTP handlers ----------------------------------------------------------------------
    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            doc = parse_body(body)
        except BadBody as exc:
            self.metrics.rejected.labels(PUSH_SOURCE, exc.reason).inc()
            return web.json_response({"error": str(exc)}, status=400)
        docs = doc if isinstance(doc, list) else [doc]
        if not docs or len(docs) > self.max_items:
            return web.json_response(
                {"error": f"send between 1 and {self.max_items} headlines"}, status=422
            )
        items: list[RawItem] = []
        problems: list[dict[str, object]] = []
        for index, entry in enumerate(docs):
            if not isinstance(entry, dict):
                problems.append({"item": index, "field": "", "error": "not a JSON object"})
                continue
            try:
                pushed = PushedHeadline.model_validate(entry)
            except ValidationError as exc:
                problems += _errors(exc, index)
                continue
            items.append(_to_raw(pushed, pushed.published_at))
        if problems:
            self.metrics.rejected.labels(PUSH_SOURCE, "invalid").inc(len(docs))
            log.warning("source %s: refused %d pushed items: %s", PUSH_SOURCE, len(docs), problems)
            return web.json_response({"errors": problems}, status=422)
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(None, self.pipeline.ingest, PUSH_SOURCE, items)
        except IngestError as exc:
            self.metrics.errors.labels(PUSH_SOURCE, exc.kind).inc()
            log.warning("source %s: push not published: %s", PUSH_SOURCE, exc)
            return web.json_response(
                {"error": "not published, retry later"}, status=503, headers={"Retry-After": "5"}
            )
        self.metrics.last_success.labels(PUSH_SOURCE).set(datetime.now().timestamp())
        return web.json_response(
            {
                "accepted": len(items),
                "new": [h.id for h in outcome.new],
                "duplicates": outcome.duplicates,
            },
            status=202,
        )

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> int:
        """Start serving; returns the bound port (useful with port 0)."""
        self._thread = threading.Thread(target=self._serve, name="ingest-push", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError("push endpoint did not start")
        if self._startup_error is not None:
            raise RuntimeError(f"push endpoint failed to start: {self._startup_error}")
        log.info("push endpoint on http://%s:%d/headlines", self.host, self.port)
        return self.port

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()

    async def _startup(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/headlines", self._post)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # The bound address tells the real port when 0 was asked for.
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


def _to_raw(pushed: PushedHeadline, published: datetime | None) -> RawItem:
    return RawItem(
        title=pushed.title,
        url=pushed.url,
        published_at=published,
        tickers=tuple(pushed.tickers),
        source=pushed.source,
    )
