"""``tapewatch web``: serve the dashboard with uvicorn until SIGINT or SIGTERM."""

from __future__ import annotations

import logging

import uvicorn

from tapewatch.settings import Settings
from web.app import create_app
from web.config import url_of
from web.context import WebContext
from web.security import check_bind

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    web = settings.web
    token = web.token.get_secret_value() if web.token is not None else None
    check_bind(web.host, token)
    app = create_app(WebContext.from_settings(settings))
    log.info("web dashboard on %s", url_of(web.host, web.port))
    # log_config=None: our logging set-up (tapewatch.logs) stays in charge of the format.
    uvicorn.run(app, host=web.host, port=web.port, log_config=None, access_log=False)
