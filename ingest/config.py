"""Ingest settings: the ``ingest`` section of :class:`tapewatch.settings.Settings`.

Environment: ``TAPEWATCH_INGEST__<FIELD>``, e.g. ``TAPEWATCH_INGEST__METRICS_PORT=9101``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class IngestConfig(BaseModel):
    metrics_port: int = Field(
        default=9101, description="Prometheus metrics port of the ingest worker."
    )
