"""Alert settings: the ``alerts`` section of :class:`tapewatch.settings.Settings`.

Environment: ``TAPEWATCH_ALERTS__<FIELD>``, e.g. ``TAPEWATCH_ALERTS__INTERVAL_SECONDS=60``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class AlertsConfig(BaseModel):
    metrics_port: int = Field(
        default=9103, description="Prometheus metrics port of the alerts worker."
    )
