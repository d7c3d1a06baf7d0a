"""The negative-spike rule per watchlist entity: the topic rule's detector and lifecycle over
``headline_entities`` instead of ``classifications``.

Each entity is its own subject: its fingerprint is the rule plus the entity id, its windows
and gates are ``AlertsConfig.entities`` (sized for a few headlines a day), and its evidence
names the entity and carries its most negative headlines. The alert's ``topic`` column holds
``Entity | <display name>`` so that every list of alerts shows what it is about; receivers
route it like a topic of that name.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from alerts import rules
from alerts.config import AlertsConfig, EntityAlertsConfig
from alerts.detector import Counts, Thresholds, TopicWindows, detect
from alerts.state import Alert, step
from alerts.windows import Bounds

if TYPE_CHECKING:
    from alerts.evaluator import Decision

RULE = rules.ENTITY_RULE
TOPIC_PREFIX = "Entity | "
EMPTY = Counts(0, 0)

# Which verdict of a (headline, entity) counts, the rule of v_entity_headlines (migration
# 0008): the active headline model's pass first, the newest only where it has none. So a
# shadow version's entity rows move no entity alert until it is activated, as for topics.
RANK = (
    "(headline_model_version = (SELECT version FROM model_versions WHERE active)) IS TRUE "
    "DESC, classified_at DESC, id DESC"
)
# Each (headline, entity) once, with its counted verdict. One range scan of
# ix_headline_entities_published_at serves every entity and window.
WINDOW_COUNTS = text(
    f"""
    WITH latest AS (
        SELECT DISTINCT ON (headline_id COLLATE "C", entity_id)
               entity_id, entity_name, entity_tickers, sentiment = 'negative' AS negative,
               published_at
        FROM headline_entities
        WHERE published_at >= :baseline_start AND published_at < :as_of
        ORDER BY headline_id COLLATE "C", entity_id, {RANK}
    )
    SELECT entity_id, max(entity_name), max(array_to_string(entity_tickers, ' ')),
           count(*) FILTER (WHERE published_at >= :short_start),
           count(*) FILTER (WHERE published_at >= :short_start AND negative),
           count(*) FILTER (WHERE published_at >= :long_start),
           count(*) FILTER (WHERE published_at >= :long_start AND negative),
           count(*) FILTER (WHERE published_at < :long_start),
           count(*) FILTER (WHERE published_at < :long_start AND negative)
    FROM latest
    GROUP BY entity_id
    """
)

MOST_NEGATIVE = text(
    f"""
    WITH latest AS (
        SELECT DISTINCT ON (headline_id, entity_id)
               headline_id, matched_text, sentiment, negative_probability, method,
               published_at
        FROM headline_entities
        WHERE entity_id = :entity_id AND published_at >= :start AND published_at < :as_of
        ORDER BY headline_id, entity_id, {RANK}
    )
    SELECT h.id, h.title, h.url, h.source, l.published_at, l.matched_text,
           l.negative_probability, l.method
    FROM latest l
    JOIN headlines h ON h.id = l.headline_id
    WHERE l.sentiment = 'negative'
    ORDER BY l.negative_probability DESC, l.published_at DESC, h.id
    LIMIT :limit
    """
)


def fingerprint(entity_id: str) -> str:
    return rules.fingerprint(f"entity\x00{entity_id}", RULE)


def topic_of(name: str) -> str:
    return (TOPIC_PREFIX + name)[:64]  # the alerts.topic column is 64 characters


def thresholds(config: EntityAlertsConfig) -> Thresholds:
    return Thresholds(
        min_count_short=config.min_count_short,
        min_negative_short=config.min_negative_short,
        min_count_long=config.min_count_long,
        max_p_value=config.max_p_value,
        min_lift=config.min_lift,
        prior_negative_rate=config.prior_negative_rate,
        prior_weight=config.prior_weight,
    )


def window_counts(
    session: Session, bounds: Bounds
) -> dict[str, tuple[dict[str, Any], TopicWindows]]:
    """entity id -> (the entity as evidence names it, its three windows), for every entity
    seen lately. Its tickers are the watchlist's as stored with its rows (none for rows
    written before migration 0008)."""
    rows = session.execute(WINDOW_COUNTS, bounds.params()).all()
    return {
        entity_id: (
            {"id": entity_id, "name": name, "tickers": (tickers or "").split()},
            TopicWindows(entity_id, Counts(st, sn), Counts(lt, ln), Counts(bt, bn)),
        )
        for entity_id, name, tickers, st, sn, lt, ln, bt, bn in rows
    }


def most_negative(
    session: Session, entity_id: str, bounds: Bounds, limit: int
) -> list[dict[str, Any]]:
    if limit <= 0:
        return []
    rows = session.execute(
        MOST_NEGATIVE,
        {
            "entity_id": entity_id,
            "start": bounds.short_start,
            "as_of": bounds.as_of,
            "limit": limit,
        },
    ).all()
    return [
        {
            "id": r.id,
            "title": r.title,
            "url": r.url,
            "source": r.source,
            "published_at": r.published_at.isoformat(),
            "matched_text": r.matched_text,
            "negative_probability": r.negative_probability,
            "method": r.method,
        }
        for r in rows
    ]


def decide_entities(
    session: Session,
    config: AlertsConfig,
    slot_at: datetime,
    active: dict[str, Alert],
    last_fired_end: dict[str, datetime],
    *,
    with_headlines: bool,
) -> list[Decision]:
    """Evaluate every entity at ``slot_at``; the entity twin of ``evaluator.decide``."""
    from alerts.evaluator import Decision, policy

    cfg = config.entities
    if not cfg.enabled:
        return []
    bounds = Bounds.at(slot_at - timedelta(seconds=config.evaluation_delay_seconds), cfg)
    counts = window_counts(session, bounds)
    # An entity whose headlines stopped altogether must still be able to resolve.
    for alert in active.values():
        if alert.rule == RULE:
            entity = alert.evidence.get("entity", {})
            empty = TopicWindows(entity.get("id", ""), EMPTY, EMPTY, EMPTY)
            known = {"id": "", "name": "", "tickers": [], **entity}
            counts.setdefault(entity.get("id", ""), (known, empty))
    limits = thresholds(cfg)
    decisions = []
    for entity_id in sorted(counts):
        entity, windows = counts[entity_id]
        name = entity["name"]
        detection = detect(windows, limits)
        fp = fingerprint(entity_id)
        evidence: dict[str, Any] = {
            "rule": RULE,
            "entity": entity,
            "topic": topic_of(name),
            "as_of": bounds.as_of.isoformat(),
            "windows_seconds": {
                "short": cfg.short_window_seconds,
                "long": cfg.long_window_seconds,
                "baseline": cfg.baseline_seconds,
            },
            **detection.evidence(),
        }
        if with_headlines and detection.holding:
            evidence["headlines"] = most_negative(
                session, entity_id, bounds, config.representative_headlines
            )
        previous = active.get(fp)
        result = step(
            previous,
            fingerprint=fp,
            topic=topic_of(name),
            rule=RULE,
            breaching=detection.breaching,
            holding=detection.holding,
            now=slot_at,
            evidence=evidence,
            policy=policy(config),
            last_fired_end=last_fired_end.get(fp),
        )
        decisions.append(Decision(detection, previous, result))
    return decisions
