"""Settings `tapewatch up` hands its workers in demo mode, as TAPEWATCH_* environment variables.

The production alert rules compare 15-minute and 1-hour windows against a 7-day baseline and
need a breach to last two minutes: right for a desk, far too slow for someone trying the
project for the first time. The demo shortens every window and wait so that the scenario's
negative burst fires an alert within a couple of minutes. A variable you set yourself always
wins over these.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

from tapewatch.settings import Settings

DEMO_RECEIVER = "demo"

DEMO_ALERTS: dict[str, str] = {
    "TAPEWATCH_ALERTS__INTERVAL_SECONDS": "10",
    "TAPEWATCH_ALERTS__SHORT_WINDOW_SECONDS": "60",
    "TAPEWATCH_ALERTS__LONG_WINDOW_SECONDS": "180",
    "TAPEWATCH_ALERTS__BASELINE_SECONDS": "3600",
    "TAPEWATCH_ALERTS__PENDING_SECONDS": "20",
    "TAPEWATCH_ALERTS__COOLDOWN_SECONDS": "120",
    "TAPEWATCH_ALERTS__REPEAT_INTERVAL_SECONDS": "3600",
    "TAPEWATCH_ALERTS__DELIVERY_POLL_SECONDS": "1",
}


def demo_env(
    settings: Settings, environ: Mapping[str, str], receiver_url: str
) -> tuple[dict[str, str], str]:
    """(variables to add to the workers' environment, the webhook secret they share).

    The demo receiver is added to the configured receivers. The secret is the configured one,
    else a fresh random one for this run: it only has to be shared between the alerts worker
    and the local receiver, both started here, and it is never printed.
    """
    env = {k: v for k, v in DEMO_ALERTS.items() if k not in environ}
    receivers = [
        {
            "name": r.name,
            "url": r.url.get_secret_value(),
            "format": r.format,
            "topics": r.topics,
        }
        for r in settings.alerts.receivers
        if r.name != DEMO_RECEIVER
    ]
    receivers.append({"name": DEMO_RECEIVER, "url": receiver_url, "format": "native"})
    env["TAPEWATCH_ALERTS__RECEIVERS"] = json.dumps(receivers)
    if settings.alerts.webhook_secret is not None:
        secret = settings.alerts.webhook_secret.get_secret_value()
    else:
        secret = secrets.token_urlsafe(32)
    env["TAPEWATCH_ALERTS__WEBHOOK_SECRET"] = secret
    # The demo replaces the small sample file the ingest worker replays by default.
    if "TAPEWATCH_INGEST__REPLAY_PATH" not in environ:
        env["TAPEWATCH_INGEST__REPLAY_PATH"] = ""
    return env, secret
