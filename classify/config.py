"""Classify-stage settings: the ``classify`` section of :class:`tapewatch.settings.Settings`.

Environment: ``TAPEWATCH_CLASSIFY__<FIELD>``, e.g. ``TAPEWATCH_CLASSIFY__MAX_BATCH=128``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class ClassifyConfig(BaseModel):
    metrics_port: int = Field(
        default=9102, description="Prometheus metrics port of the classify worker."
    )
