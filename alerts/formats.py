"""Webhook payload formats: native JSON, Alertmanager-webhook-compatible, Slack-compatible.

Each renderer turns one alert transition into the JSON body POSTed to a receiver. The body is
rendered once, when the notification is queued, and sent unchanged on every attempt. The native
format is documented field by field in ``docs/alerts.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from alerts.rules import ALERT_NAME, ENTITY_RULE, PIPELINE_RULE
from alerts.state import Alert, Event

NATIVE_VERSION = 1
# Alertmanager's way of saying "no end yet" in endsAt.
ZERO_TIME = "0001-01-01T00:00:00Z"

Renderer = Callable[[Alert, Event, str, str], dict[str, Any]]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _status(event: Event) -> str:
    return "resolved" if event is Event.RESOLVED else "firing"


def entity_of(alert: Alert) -> dict[str, Any] | None:
    """The watchlist entity an entity alert is about (``{"id", "name", "tickers"}``), or None
    for a topic or pipeline alert."""
    if alert.rule != ENTITY_RULE:
        return None
    entity = alert.evidence.get("entity") or {}
    return {
        "id": str(entity.get("id", "")),
        "name": str(entity.get("name", "")),
        "tickers": [str(t) for t in entity.get("tickers") or []],
    }


def _entity_label(entity: dict[str, Any]) -> str:
    """'Shell plc (shell; SHEL)': the display name, then the id a receiver can look up and the
    tickers a trader knows it by."""
    tickers = ", ".join(entity["tickers"])
    return f"{entity['name']} ({entity['id']}{'; ' + tickers if tickers else ''})"


def _window(seconds: Any) -> str:
    seconds = int(seconds or 0)
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{round(seconds / 60)} min"


def summary(alert: Alert, event: Event) -> str:
    """One line a human reads first."""
    if alert.rule == PIPELINE_RULE:
        if event is Event.RESOLVED:
            return "Resolved: the Tapewatch pipeline sees headlines again"
        reasons = "; ".join(alert.evidence.get("reasons", []))
        return f"Tapewatch is blind: {reasons}"
    short = alert.evidence.get("short", {})
    reference = alert.evidence.get("baseline", {}).get("reference_rate", 0.0)
    rate = short.get("rate", 0.0)
    entity = entity_of(alert)
    if entity is not None:
        # About a company, not a topic: say whom, how it is known, and over what window.
        label = _entity_label(entity)
        if event is Event.RESOLVED:
            return f"Resolved: negative news about {label} has eased"
        window = _window(alert.evidence.get("windows_seconds", {}).get("short"))
        return (
            f"Negative news about {label}: {rate:.0%} of its headlines negative "
            f"({short.get('negative', 0)} of {short.get('total', 0)} in the last {window}) "
            f"vs {reference:.0%} baseline"
        )
    if event is Event.RESOLVED:
        return f"Resolved: negative-sentiment spike on {alert.topic} has ended"
    return (
        f"Negative-sentiment spike on {alert.topic}: {rate:.0%} negative "
        f"({short.get('negative', 0)} of {short.get('total', 0)}) vs {reference:.0%} baseline"
    )


def _headlines(alert: Alert) -> list[dict[str, Any]]:
    return list(alert.evidence.get("headlines", []))


def native(alert: Alert, event: Event, receiver: str, key: str) -> dict[str, Any]:
    body = {
        "version": NATIVE_VERSION,
        "idempotency_key": key,
        "receiver": receiver,
        "event": event.value,
        "status": _status(event),
        "summary": summary(alert, event),
        "alert": {
            "id": alert.id,
            "name": ALERT_NAME,
            "rule": alert.rule,
            "topic": alert.topic,
            "fingerprint": alert.fingerprint,
            "state": alert.state.value,
            "started_at": _iso(alert.started_at),
            "fired_at": _iso(alert.fired_at),
            "ended_at": _iso(alert.ended_at),
            "evidence": alert.evidence,
        },
    }
    entity = entity_of(alert)
    if entity is not None:  # an entity alert says whom it is about beside its topic label
        body["alert"]["entity"] = entity
    return body


def alertmanager(alert: Alert, event: Event, receiver: str, key: str) -> dict[str, Any]:
    labels = {
        "alertname": ALERT_NAME,
        "topic": alert.topic,
        "rule": alert.rule,
        "severity": "warning",
    }
    entity = entity_of(alert)
    if entity is not None:  # routable by entity id, whatever the display name
        labels |= {"entity_id": entity["id"], "entity": entity["name"]}
        if entity["tickers"]:
            labels["tickers"] = ",".join(entity["tickers"])
    short = alert.evidence.get("short", {})
    annotations = {
        "summary": summary(alert, event),
        "description": (
            f"short window p={short.get('p_value', 1.0):.2g}, "
            f"baseline reference {alert.evidence.get('baseline', {}).get('reference_rate', 0):.3f}"
        ),
        "idempotency_key": key,
    }
    group_labels = {"alertname": ALERT_NAME, "topic": alert.topic}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{ALERT_NAME}", topic="{alert.topic}"}}',
        "truncatedAlerts": 0,
        "status": _status(event),
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [
            {
                "status": _status(event),
                "labels": labels,
                "annotations": annotations,
                "startsAt": _iso(alert.fired_at or alert.started_at),
                "endsAt": _iso(alert.ended_at) or ZERO_TIME,
                "generatorURL": "",
                "fingerprint": alert.fingerprint,
            }
        ],
    }


def _slack_escape(value: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(alert: Alert, event: Event, receiver: str, key: str) -> dict[str, Any]:
    text = summary(alert, event)
    lines = []
    for h in _headlines(alert):
        title = _slack_escape(h.get("title", ""))
        line = f"• <{h['url']}|{title}>" if h.get("url") else f"• {title}"
        if h.get("matched_text"):  # an entity alert's headline: how it named the entity
            line += f" _({_slack_escape(str(h['matched_text']))})_"
        lines.append(line)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack_escape(text)}*"}}
    ]
    if lines and event is not Event.RESOLVED:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"{ALERT_NAME} · {alert.fingerprint} · {key[:12]}"}
            ],
        }
    )
    return {"text": text, "blocks": blocks}


RENDERERS: dict[str, Renderer] = {
    "native": native,
    "alertmanager": alertmanager,
    "slack": slack,
}


def render(fmt: str, alert: Alert, event: Event, receiver: str, key: str) -> dict[str, Any]:
    return RENDERERS[fmt](alert, event, receiver, key)
