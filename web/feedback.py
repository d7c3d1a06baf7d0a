"""Analyst feedback endpoints: ``POST /api/v1/feedback/headline`` and ``/feedback/alert``.

The dashboard reads through its read-only role; these two write through a second login role,
``tapewatch_web_feedback`` (migration 0005), that may insert into the two feedback tables and do
nothing else, not even read them back. The URL is the read-only one with that user and its own
password (``TAPEWATCH_WEB__FEEDBACK_PASSWORD``; none where pg_hba trusts local connections).
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, SecretStr, model_validator
from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from classify.labels import TOPICS
from storage.feedback import add_alert_verdict, add_headline_correction

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])
FEEDBACK_USER = "tapewatch_web_feedback"

Sentiment = Literal["negative", "neutral", "positive"]


class HeadlineCorrection(BaseModel):
    """ "Sentiment is really …" and/or "topic is really …", with what the page showed."""

    headline_id: str = Field(min_length=1, max_length=64)
    analyst: str = Field(min_length=1, max_length=200)
    model_version: str | None = Field(default=None, max_length=64)
    shown_topic: str | None = Field(default=None, max_length=64)
    shown_sentiment: str | None = Field(default=None, max_length=16)
    topic: str | None = Field(default=None, max_length=64)
    sentiment: Sentiment | None = None
    comment: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _a_correction(self) -> HeadlineCorrection:
        if self.topic is None and self.sentiment is None:
            raise ValueError("give a topic, a sentiment or both")
        if self.topic is not None and self.topic not in TOPICS:
            raise ValueError(f"unknown topic {self.topic!r}")
        return self


class AlertVerdict(BaseModel):
    alert_id: int
    analyst: str = Field(min_length=1, max_length=200)
    verdict: Literal["useful", "false_alarm"]
    model_version: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, max_length=2000)


def feedback_url(readonly_url: str, password: SecretStr | None = None) -> str:
    secret = password.get_secret_value() if password is not None else None
    return (
        make_url(readonly_url)
        .set(username=FEEDBACK_USER, password=secret)
        .render_as_string(hide_password=False)
    )


def make_feedback_engine(readonly_url: str, password: SecretStr | None = None) -> Engine:
    return create_engine(
        feedback_url(readonly_url, password),
        pool_size=1,
        max_overflow=2,
        pool_pre_ping=True,
        connect_args={"application_name": "tapewatch-web-feedback"},
    )


def _write(request: Request, fn: object, row: dict[str, object]) -> dict[str, str]:
    engine: Engine = request.app.state.feedback_engine
    try:
        with engine.begin() as conn:
            fn(conn, row)  # type: ignore[operator]
    except IntegrityError as exc:  # the headline or alert does not exist
        raise HTTPException(status_code=404, detail="no such headline or alert") from exc
    except OperationalError as exc:  # the login refused, or the database down
        log.warning("feedback not recorded: %s", str(exc.orig).strip().splitlines()[0])
        raise HTTPException(
            status_code=503,
            detail=(
                f"feedback not recorded: the {FEEDBACK_USER} login could not connect; check "
                "TAPEWATCH_WEB__FEEDBACK_PASSWORD and that `tapewatch db upgrade` has run"
            ),
        ) from exc
    return {"status": "recorded"}


@router.post("/headline", status_code=201, summary="Correct a headline's topic or sentiment")
def post_headline(request: Request, body: HeadlineCorrection) -> dict[str, str]:
    return _write(request, add_headline_correction, body.model_dump())


@router.post("/alert", status_code=201, summary="Judge an alert: useful or a false alarm")
def post_alert(request: Request, body: AlertVerdict) -> dict[str, str]:
    return _write(request, add_alert_verdict, body.model_dump())
