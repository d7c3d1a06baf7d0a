"""Alert settings: the ``alerts`` section of :class:`tapewatch.settings.Settings`.

Environment: ``TAPEWATCH_ALERTS__<FIELD>``, e.g. ``TAPEWATCH_ALERTS__INTERVAL_SECONDS=60``.
Structured fields take JSON, e.g.
``TAPEWATCH_ALERTS__RECEIVERS='[{"name": "ops", "url": "https://…", "format": "slack"}]'``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

PayloadFormat = Literal["native", "alertmanager", "slack"]


class TopicOverride(BaseModel):
    """Per-topic thresholds; a field left unset falls back to the global setting."""

    enabled: bool = Field(default=True, description="False: never alert on this topic.")
    min_count_short: int | None = Field(default=None, ge=1)
    min_negative_short: int | None = Field(default=None, ge=1)
    min_count_long: int | None = Field(default=None, ge=1)
    max_p_value: float | None = Field(default=None, gt=0.0, lt=1.0)
    min_lift: float | None = Field(default=None, ge=0.0, le=1.0)


class ReceiverConfig(BaseModel):
    """One webhook receiver. The URL may hold a token (Slack does this), so it is never logged."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    url: SecretStr = Field(description="Where notifications are POSTed (http or https).")
    format: PayloadFormat = Field(default="native", description="Payload format.")
    topics: list[str] = Field(
        default=[], description="Topics routed to this receiver; empty: every topic."
    )

    def wants(self, topic: str) -> bool:
        return not self.topics or topic in self.topics


class EntityAlertsConfig(BaseModel):
    """The negative-spike rule per watchlist entity (``headline_entities``), with gates for low
    volume: a company may have five headlines a day, so the windows are longer and the counts
    smaller than a topic's, and the thin-baseline prior weighs less (docs/entities.md)."""

    enabled: bool = Field(default=True, description="Evaluate the rule per watchlist entity.")
    short_window_seconds: int = Field(
        default=3600, ge=1, description="Recent window of an entity's headlines (seconds)."
    )
    long_window_seconds: int = Field(
        default=6 * 3600, ge=1, description="Confirmation window of an entity (seconds)."
    )
    baseline_seconds: int = Field(
        default=14 * 86400, ge=1, description="Trailing baseline of an entity (seconds)."
    )
    min_count_short: int = Field(
        default=4, ge=1, description="Fewest headlines about the entity in the short window."
    )
    min_negative_short: int = Field(
        default=4, ge=1, description="Fewest negative ones in the short window."
    )
    min_count_long: int = Field(
        default=5, ge=1, description="Fewest headlines about the entity in the long window."
    )
    # Looser than a topic's 0.001: five negative of five against a 0.4 reference is p=0.01,
    # and an entity rarely has more headlines than that in an hour.
    max_p_value: float = Field(
        default=0.02, gt=0.0, lt=1.0, description="One-sided binomial p-value per window."
    )
    min_lift: float = Field(
        default=0.25, ge=0.0, le=1.0, description="Smallest rise of the negative share that counts."
    )
    prior_negative_rate: float = Field(
        default=0.3, gt=0.0, lt=1.0, description="Prior negative share of a thin entity baseline."
    )
    prior_weight: float = Field(
        default=10.0, ge=0.0, description="Pseudo-headlines the prior is worth per entity."
    )

    @model_validator(mode="after")
    def _check(self) -> EntityAlertsConfig:
        if self.long_window_seconds < self.short_window_seconds:
            raise ValueError("entities: long_window_seconds must be at least short_window_seconds")
        return self


class AlertsConfig(BaseModel):
    metrics_port: int = Field(
        default=9103, description="Prometheus metrics port of the alerts worker (0: none)."
    )

    # --- detection ------------------------------------------------------------------------------
    interval_seconds: int = Field(
        default=60, ge=1, description="How often the rules are evaluated (seconds)."
    )
    short_window_seconds: int = Field(
        default=900, ge=1, description="Recent window whose negative share is tested (seconds)."
    )
    long_window_seconds: int = Field(
        default=3600,
        ge=1,
        description="Longer confirmation window; both windows must breach to alert (seconds).",
    )
    baseline_seconds: int = Field(
        default=7 * 86400,
        ge=1,
        description="Trailing baseline, ending where the long window starts (seconds).",
    )
    min_count_short: int = Field(
        default=20, ge=1, description="Fewest headlines in the short window for a topic to alert."
    )
    min_negative_short: int = Field(
        default=8, ge=1, description="Fewest negative headlines in the short window to alert."
    )
    min_count_long: int = Field(
        default=40, ge=1, description="Fewest headlines in the long window to confirm an alert."
    )
    max_p_value: float = Field(
        default=0.001,
        gt=0.0,
        lt=1.0,
        description="One-sided binomial p-value each window must be below to breach.",
    )
    min_lift: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="Smallest rise of the negative share over the baseline reference that counts.",
    )
    prior_negative_rate: float = Field(
        default=0.3,
        gt=0.0,
        lt=1.0,
        description="Prior negative share blended into thin baselines (new or quiet topics).",
    )
    prior_weight: float = Field(
        default=20.0, ge=0.0, description="Pseudo-headlines the prior is worth in the baseline."
    )
    topic_overrides: dict[str, TopicOverride] = Field(
        default={}, description="Per-topic thresholds as JSON: {topic: {field: value}}."
    )
    evaluation_delay_seconds: int = Field(
        default=0,
        ge=0,
        description="Windows end this long before the evaluation time, for late classifications.",
    )
    representative_headlines: int = Field(
        default=5, ge=0, le=50, description="Most negative headlines attached as evidence."
    )

    entities: EntityAlertsConfig = Field(default_factory=EntityAlertsConfig)

    # --- lifecycle ------------------------------------------------------------------------------
    pending_seconds: int = Field(
        default=120, ge=0, description="How long a breach must last before it fires (seconds)."
    )
    repeat_interval_seconds: int = Field(
        default=4 * 3600, ge=1, description="Re-notify a still-firing alert this often (seconds)."
    )
    cooldown_seconds: int = Field(
        default=1800,
        ge=0,
        description="After a resolve, the same topic and rule may not alert again this soon.",
    )

    # --- delivery -------------------------------------------------------------------------------
    receivers: list[ReceiverConfig] = Field(
        default=[], description="Webhook receivers as JSON: [{name, url, format, topics}]."
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Shared HMAC-SHA256 secret signing every webhook (required with receivers).",
    )
    request_timeout_seconds: float = Field(
        default=10.0, gt=0.0, description="Timeout of each webhook request (seconds)."
    )
    max_attempts: int = Field(
        default=25, ge=1, description="Delivery attempts before a notification is given up."
    )
    backoff_initial_seconds: float = Field(
        default=2.0, gt=0.0, description="Delay before the first retry; doubles each attempt."
    )
    backoff_max_seconds: float = Field(
        default=600.0, gt=0.0, description="Longest delay between two delivery attempts."
    )
    delivery_poll_seconds: float = Field(
        default=1.0, gt=0.0, description="How often the worker looks for due notifications."
    )

    @model_validator(mode="after")
    def _check(self) -> AlertsConfig:
        if self.long_window_seconds < self.short_window_seconds:
            raise ValueError("long_window_seconds must be at least short_window_seconds")
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError("receiver names must be unique")
        for receiver in self.receivers:
            if not receiver.url.get_secret_value().startswith(("http://", "https://")):
                raise ValueError(f"receiver {receiver.name}: url must be http(s)")
        if self.receivers and (
            self.webhook_secret is None or len(self.webhook_secret.get_secret_value()) < 16
        ):
            # Fail loudly: unsigned alerts would let anyone forge them at the receiver.
            raise ValueError("receivers need TAPEWATCH_ALERTS__WEBHOOK_SECRET (16+ characters)")
        return self

    def receiver(self, name: str) -> ReceiverConfig | None:
        return next((r for r in self.receivers if r.name == name), None)
