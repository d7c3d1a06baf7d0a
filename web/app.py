"""The ASGI app: pages, the JSON API, our own static files and the installed chart library."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from web import api, feedback, pages
from web.context import WebContext
from web.db import check_read_only, make_readonly_engine
from web.security import LOOPBACK_HOSTS, SecurityMiddleware, is_loopback
from web.watcher import Watcher

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
UPLOT = ("uplot", "dist")  # under the npm folder


def create_app(ctx: WebContext, *, watch: bool = True) -> FastAPI:
    """The app for ``ctx``; ``watch=False`` leaves out the background metrics reader."""
    engine = make_readonly_engine(ctx.database_url, ctx.config)
    feedback_engine = feedback.make_feedback_engine(ctx.database_url, ctx.config.feedback_password)
    watcher = Watcher(ctx.metrics, ctx.kafka_bootstrap, ctx.dlq_topic)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        check_read_only(engine)
        if watch:
            watcher.start()
        try:
            yield
        finally:
            watcher.stop()
            engine.dispose()
            feedback_engine.dispose()

    app = FastAPI(
        title="Tapewatch",
        summary="Negative-news monitor: topics, alerts, headlines and the pipeline, as JSON.",
        version="1",
        openapi_url="/api/v1/openapi.json",
        # FastAPI's own docs pages load their scripts from a CDN; /api renders the schema.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.context = ctx
    app.state.engine = engine
    app.state.feedback_engine = feedback_engine
    app.state.watcher = watcher
    uplot = ctx.config.assets_dir.joinpath(*UPLOT)
    app.state.assets_ok = uplot.is_dir()
    if not app.state.assets_ok:
        log.error("no chart library in %s: run `npm ci` (the Makefile's set-up does)", uplot)
    else:
        app.mount("/vendor/uplot", StaticFiles(directory=uplot), name="uplot")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(feedback.router)
    app.include_router(pages.router)
    app.add_middleware(SecurityMiddleware, token=_token(ctx))
    if is_loopback(ctx.config.host):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_HOSTS)
    return app


def _token(ctx: WebContext) -> str | None:
    token = ctx.config.token
    return token.get_secret_value() if token is not None else None
