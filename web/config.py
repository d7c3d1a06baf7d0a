"""Web-dashboard settings: the ``web`` section of :class:`tapewatch.settings.Settings`.

Environment: ``TAPEWATCH_WEB__<FIELD>``, e.g. ``TAPEWATCH_WEB__PORT=8080``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

# The set-up's `npm ci` installs the front-end libraries here (package.json at the root).
DEFAULT_ASSETS = Path(__file__).resolve().parent.parent / "node_modules"


class WebConfig(BaseModel):
    host: str = Field(
        default="127.0.0.1",
        description="Address the web dashboard binds; any non-loopback one needs a token.",
    )
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the web dashboard.")
    token: SecretStr | None = Field(
        default=None,
        description="Access token (secret). Required to bind a non-loopback address; "
        "browsers send it once as ?token=…, then carry a cookie.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of a read-only role for the dashboard. Unset: the main "
        "database with the user `readonly_user`.",
    )
    readonly_user: str = Field(
        default="tapewatch_web",
        description="Login role (member of tapewatch_readonly) the dashboard connects as.",
    )
    readonly_password: SecretStr | None = Field(
        default=None,
        description="Password of `readonly_user` (secret); `tapewatch db upgrade` sets it.",
    )
    feedback_password: SecretStr | None = Field(
        default=None,
        description=(
            "Password of the feedback login role `tapewatch_web_feedback` (secret; insert into "
            "the feedback tables only); `tapewatch db upgrade` sets it. Unset: no password."
        ),
    )
    refresh_seconds: float = Field(
        default=3.0, gt=0, description="How often the pages fetch new data."
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Host of the workers' Prometheus endpoints (Pipeline page).",
    )
    assets_dir: Path = Field(
        default=DEFAULT_ASSETS,
        description="Installed front-end libraries (`npm ci`), served by the app itself.",
    )
    query_timeout_ms: int = Field(
        default=5000, ge=100, description="Longest a dashboard query may run."
    )


def url_of(host: str, port: int) -> str:
    """The dashboard's address as a browser wants it (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"
