"""The JSON API under ``/api/v1``: what every page fetches, documented by OpenAPI."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine

from web.db import query
from web.queries.alerts import alert_detail, list_alerts
from web.queries.common import RawJSON
from web.queries.entities import entity_detail, entity_list
from web.queries.headlines import HeadlineFilter, headlines
from web.queries.overview import overview
from web.queries.pipeline import pipeline_db
from web.workers import workers

router = APIRouter(prefix="/api/v1", tags=["api"])

RangeName = Literal["1h", "6h", "24h", "7d", "30d"]
AlertState = Literal["pending", "firing", "resolved"]
Sentiment = Literal["negative", "neutral", "positive"]
EntityRange = Literal["24h", "7d", "30d"]


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _plain(answer: dict[str, Any]) -> Response:
    """An answer of JSON types only (strings, numbers, lists), sent as it is: FastAPI would
    otherwise walk every element through ``jsonable_encoder`` first, which costs more than the
    queries for a 30-day overview (tens of thousands of numbers). Top-level :class:`RawJSON`
    values (encoded by PostgreSQL) are spliced in without being parsed or encoded again."""
    raw = {k: v for k, v in answer.items() if isinstance(v, RawJSON)}
    if not raw:
        return JSONResponse(answer)
    # Encoded as JSONResponse encodes; only its closing brace is replaced.
    head = json.dumps(
        {k: v for k, v in answer.items() if k not in raw},
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    )
    spliced = ",".join(f"{json.dumps(k)}:{v}" for k, v in raw.items())
    body = head[:-1] + ("," if len(head) > 2 else "") + spliced + "}"
    return Response(body.encode(), media_type="application/json")


@router.get("/overview", summary="Negative share and volume per topic over a range")
def get_overview(
    request: Request, range: Annotated[RangeName, Query(description="time range")] = "24h"
) -> Response:
    ctx = request.app.state.context
    return _plain(query(_engine(request), overview, range, ctx.short_window_s, ctx.baseline_s))


@router.get("/alerts", summary="Alerts, newest first, filtered by state and topic")
def get_alerts(
    request: Request,
    state: AlertState | None = None,
    topic: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    return query(_engine(request), list_alerts, state, topic, limit)


@router.get("/alerts/{alert_id}", summary="One alert: evidence, chart, webhook deliveries")
def get_alert(request: Request, alert_id: int) -> dict[str, Any]:
    answer = query(_engine(request), alert_detail, alert_id)
    if answer["alert"] is None:
        raise HTTPException(status_code=404, detail=f"no alert {alert_id}")
    return answer


@router.get("/headlines", summary="Headlines, newest first; syndicated copies folded")
def get_headlines(
    request: Request,
    topic: str | None = None,
    sentiment: Sentiment | None = None,
    source: str | None = None,
    ticker: str | None = None,
    q: Annotated[str | None, Query(description="full-text search (web search syntax)")] = None,
    since: Annotated[datetime | None, Query(description="published at or after")] = None,
    until: Annotated[datetime | None, Query(description="published before (older pages)")] = None,
    after: Annotated[datetime | None, Query(description="published after (live polling)")] = None,
    entity: Annotated[
        str | None, Query(max_length=64, description="watchlist entity id: headlines naming it")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JSONResponse:
    flt = HeadlineFilter(topic, sentiment, source, ticker, q, since, until, after, entity)
    return _plain(query(_engine(request), headlines, flt, limit))


@router.get(
    "/entities",
    summary="Watchlist entities seen: negative share now vs baseline, volume, alert state",
)
def get_entities(
    request: Request,
    range: Annotated[EntityRange, Query(description="range of the volume column")] = "7d",
) -> dict[str, Any]:
    ctx = request.app.state.context
    return query(
        _engine(request), entity_list, range, ctx.entity_short_window_s, ctx.entity_baseline_s
    )


@router.get(
    "/entities/{entity_id}",
    summary="One entity: negative share over time, recent headlines with its own sentiment, "
    "its alerts",
)
def get_entity(
    request: Request,
    entity_id: Annotated[str, Path(max_length=64, description="watchlist entity id")],
    range: Annotated[EntityRange, Query(description="range of the chart")] = "7d",
    before: Annotated[
        datetime | None, Query(description="headlines published before (older pages)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    answer = query(_engine(request), entity_detail, entity_id, range, limit, before)
    if answer["entity"] is None:
        raise HTTPException(status_code=404, detail=f"no headline names entity {entity_id!r}")
    return answer


@router.get("/pipeline", summary="Stage rates, consumer lag, dead letters, feeds, workers")
def get_pipeline(request: Request) -> dict[str, Any]:
    answer = query(_engine(request), pipeline_db)
    answer |= request.app.state.watcher.snapshot()
    answer["workers"] = workers(answer["workers"], request.app.state.context.states_path)
    return answer
