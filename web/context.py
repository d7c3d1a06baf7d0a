"""Everything the app needs, resolved once from the settings at the entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tapewatch import worker_states
from tapewatch.settings import Settings
from web.config import WebConfig
from web.db import readonly_url


@dataclass(frozen=True)
class WebContext:
    config: WebConfig
    database_url: str  # the read-only role's
    short_window_s: int = 900  # the alert rule's windows: "now" and "baseline" on Overview
    baseline_s: int = 7 * 86400
    # The entity rule's windows ("now" and "baseline" on Entities): an hour and two weeks.
    entity_short_window_s: int = 3600
    entity_baseline_s: int = 14 * 86400
    metrics: dict[str, str] = field(default_factory=dict)  # worker -> Prometheus URL
    kafka_bootstrap: str | None = None
    dlq_topic: str = "headlines.dlq"
    states_path: Path | None = None  # the supervisor's worker states (tapewatch up)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebContext:
        web = settings.web
        ports = {
            "ingest": settings.ingest.metrics_port,
            "classify": settings.classify.metrics_port,
            "alerts": settings.alerts.metrics_port,
        }
        return cls(
            config=web,
            database_url=readonly_url(web, settings.resolved_database_url()),
            short_window_s=settings.alerts.short_window_seconds,
            baseline_s=settings.alerts.baseline_seconds,
            entity_short_window_s=settings.alerts.entities.short_window_seconds,
            entity_baseline_s=settings.alerts.entities.baseline_seconds,
            metrics={
                name: f"http://{web.metrics_host}:{port}/metrics"
                for name, port in ports.items()
                if port
            },
            kafka_bootstrap=settings.resolved_kafka_bootstrap(),
            dlq_topic=settings.topic_dlq,
            states_path=worker_states.path_in(settings.state_dir),
        )
