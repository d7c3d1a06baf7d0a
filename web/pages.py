"""The HTML pages: each a bookmarkable URL whose filters live in the query string. A page is a
template that names its script; the script fetches the page's ``/api/v1`` twin and redraws it
every ``refresh_seconds``. Nothing from the database is rendered into HTML on the server, and
the scripts only ever set text, never markup."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from classify.labels import TOPICS
from web.db import query
from web.queries.overview import opening_range

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
router = APIRouter(include_in_schema=False)

NAV = [
    ("/", "Overview"),
    ("/alerts", "Alerts"),
    ("/headlines", "Headlines"),
    ("/entities", "Entities"),
    ("/pipeline", "Pipeline"),
    ("/api", "API"),
]


def _page(request: Request, template: str, title: str, **extra: object) -> HTMLResponse:
    ctx = request.app.state.context
    return templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "nav": NAV,
            "path": request.url.path,
            "refresh_ms": int(ctx.config.refresh_seconds * 1000),
            "assets": request.app.state.assets_ok,
            **extra,
        },
    )


@router.get("/", response_class=HTMLResponse, response_model=None)
def overview_page(request: Request) -> HTMLResponse | RedirectResponse:
    if "range" not in request.query_params:
        # The address then says what is shown, so a bookmark or a shared link keeps it.
        opening = query(request.app.state.engine, lambda conn: {"range": opening_range(conn)})
        return RedirectResponse(f"/?range={opening['range']}", status_code=302)
    return _page(request, "overview.html", "Overview")


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request) -> HTMLResponse:
    return _page(request, "alerts.html", "Alerts")


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: int) -> HTMLResponse:
    return _page(request, "alert.html", f"Alert {alert_id}", alert_id=alert_id)


@router.get("/headlines", response_class=HTMLResponse)
def headlines_page(request: Request) -> HTMLResponse:
    # The topics a correction may name: the classifier's labels, not database text.
    return _page(request, "headlines.html", "Headlines", topics=json.dumps(list(TOPICS)))


@router.get("/entities", response_class=HTMLResponse)
def entities_page(request: Request) -> HTMLResponse:
    return _page(request, "entities.html", "Entities")


@router.get("/entities/{entity_id}", response_class=HTMLResponse)
def entity_page(request: Request, entity_id: str) -> HTMLResponse:
    # The id goes into an attribute (autoescaped); the script fetches and shows the name.
    return _page(request, "entity.html", "Entity", entity_id=entity_id)


@router.get("/pipeline", response_class=HTMLResponse)
def pipeline_page(request: Request) -> HTMLResponse:
    return _page(request, "pipeline.html", "Pipeline")


@router.get("/api", response_class=HTMLResponse)
def api_page(request: Request) -> HTMLResponse:
    return _page(request, "api.html", "API")
