"""The alert rule: its name, the fingerprint of one alert, and each topic's thresholds."""

from __future__ import annotations

import dataclasses
import hashlib

from alerts.config import AlertsConfig
from alerts.detector import Thresholds

# One rule today. It is part of the fingerprint so that a second rule on the same topic (e.g.
# a volume spike) gets alerts of its own.
RULE = "negative_spike"
ALERT_NAME = "NegativeSentimentSpike"
# The pipeline's own alert (alerts/pipeline.py): the monitor cannot see.
PIPELINE_RULE = "pipeline_blind"
# The negative-spike rule per watchlist entity (alerts/entities.py); named here so that the
# payload formats can tell an entity alert without importing the rule's queries.
ENTITY_RULE = "entity_negative_spike"


def fingerprint(topic: str, rule: str = RULE) -> str:
    """Stable identity of an alert across evaluations, processes and backtests."""
    return hashlib.sha256(f"{rule}\x00{topic}".encode()).hexdigest()[:16]


def thresholds_for(config: AlertsConfig, topic: str) -> Thresholds:
    """Global thresholds with the topic's overrides applied."""
    base = Thresholds(
        min_count_short=config.min_count_short,
        min_negative_short=config.min_negative_short,
        min_count_long=config.min_count_long,
        max_p_value=config.max_p_value,
        min_lift=config.min_lift,
        prior_negative_rate=config.prior_negative_rate,
        prior_weight=config.prior_weight,
    )
    override = config.topic_overrides.get(topic)
    if override is None:
        return base
    changes = override.model_dump(exclude={"enabled"}, exclude_none=True)
    return dataclasses.replace(base, **changes)


def enabled(config: AlertsConfig, topic: str) -> bool:
    override = config.topic_overrides.get(topic)
    return override is None or override.enabled
