"""What every entry point does first: read the settings once and configure logging."""

from __future__ import annotations

from tapewatch.logs import configure_logging
from tapewatch.settings import Settings


def load_settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return settings
