"""Seeded watchlist entities for the web tests: a week of headlines naming Acme Corp (a
quarter negative, every 3 hours) ending in a negative burst with a firing entity alert and an
older resolved one, Zorblax Industries (mostly positive, every 6 hours), a mixed headline whose
two entities disagree with each other and with the headline, and an entity whose watchlist
name is markup. Written through ``store_classified`` and ``store_entities``, as the classify
stage writes them, and plain SQL for the alerts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from storage import make_engine, session_scope
from storage.entities import EntityRow, store_entities
from storage.repository import store_classified
from tapewatch.events import ClassifiedHeadline, Headline
from tests.web_seed import hid

EVIL_NAME = '<img src=x onerror="window.__pwned=1">Evil & Co'
MIXED_TITLE = "Acme Corp gains as Zorblax Industries slips on weak guidance"
MODEL = "seed-model-1"
ENTITY_MODEL = "ent-seed-1"
BURST = 6  # negative Acme headlines in the last 50 minutes


@dataclass
class EntitySeed:
    now: datetime
    mixed_id: str = ""
    firing_alert_id: int = 0
    resolved_alert_id: int = 0
    headlines: dict[str, int] = field(default_factory=dict)  # entity id -> headlines naming it


def _pair(n: int, title: str, sentiment: str, at: datetime) -> tuple[Headline, ClassifiedHeadline]:
    h_id = hid("entity-seed", n)
    p_neg = 0.9 if sentiment == "negative" else 0.05
    h = Headline(
        id=h_id,
        source="seed-wire",
        title=title,
        url=f"https://news.example.com/e/{n}",
        published_at=at,
        ingested_at=at,
        cluster_id=h_id,
    )
    c = ClassifiedHeadline(
        headline_id=h_id,
        source=h.source,
        title=title,
        url=h.url,
        published_at=at,
        topic="Earnings",
        topic_confidence=0.9,
        sentiment=sentiment,  # type: ignore[arg-type]
        sentiment_confidence=0.85,
        probabilities={"sentiment": {"negative": p_neg, "neutral": 0.05, "positive": 0.9 - p_neg}},
        model_version=MODEL,
        classified_at=at + timedelta(seconds=2),
    )
    return h, c


def _entity(
    c: ClassifiedHeadline,
    entity_id: str,
    name: str,
    matched: str,
    sentiment: str,
    *,
    method: str = "headline",
    confidence: float = 0.85,
) -> EntityRow:
    return EntityRow(
        headline_id=c.headline_id,
        entity_id=entity_id,
        entity_name=name,
        matched_text=matched,
        sentiment=sentiment,
        confidence=confidence,
        negative_probability=0.9 if sentiment == "negative" else 0.05,
        model_version=MODEL if method == "headline" else ENTITY_MODEL,
        method=method,
        published_at=c.published_at,
        classified_at=c.classified_at,
        headline_model_version=MODEL,
    )


def seed_entities(database_url: str, now: datetime | None = None) -> EntitySeed:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    out = EntitySeed(now=now)
    pairs: list[tuple[Headline, ClassifiedHeadline]] = []
    rows: list[EntityRow] = []

    def add(title: str, sentiment: str, at: datetime) -> ClassifiedHeadline:
        h, c = _pair(len(pairs), title, sentiment, at)
        pairs.append((h, c))
        return c

    for i in range(56):  # a week, every 3 hours, ending 2 hours ago
        at = now - timedelta(hours=2 + 3 * (55 - i), minutes=7)
        sentiment = "negative" if i % 4 == 0 else "positive"
        c = add(f"Acme Corp update {i}: orders steady", sentiment, at)
        rows.append(_entity(c, "acme", "Acme Corp", "Acme Corp", sentiment))
    for i in range(BURST):
        at = now - timedelta(minutes=50 - 8 * i)
        c = add(f"Acme recalls product line, shares slide ({i})", "negative", at)
        rows.append(_entity(c, "acme", "Acme Corp", "Acme", "negative"))
    for i in range(28):
        at = now - timedelta(hours=3 + 6 * i)
        sentiment = "neutral" if i % 5 == 0 else "positive"
        c = add(f"Zorblax Industries wins contract {i}", sentiment, at)
        rows.append(_entity(c, "zorblax", "Zorblax Industries", "Zorblax Industries", sentiment))
    # Two entities, two verdicts from the entity model, neither the headline's "neutral".
    c = add(MIXED_TITLE, "neutral", now - timedelta(minutes=5))
    out.mixed_id = c.headline_id
    rows += [
        _entity(c, "acme", "Acme Corp", "Acme Corp", "positive", method="entity_model"),
        _entity(
            c,
            "zorblax",
            "Zorblax Industries",
            "Zorblax Industries",
            "negative",
            method="entity_model",
            confidence=0.93,
        ),
    ]
    c = add("Evil Co probed over accounts", "negative", now - timedelta(hours=4))
    rows.append(_entity(c, "evil-co", EVIL_NAME, "Evil Co", "negative"))
    for r in rows:
        out.headlines[r.entity_id] = out.headlines.get(r.entity_id, 0) + 1

    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            store_classified(session, [p[0] for p in pairs], [p[1] for p in pairs])
            store_entities(session, rows)
            out.firing_alert_id, out.resolved_alert_id = _seed_alerts(session, now)
    finally:
        engine.dispose()
    return out


def _seed_alerts(session, now: datetime) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    evidence = {
        "rule": "entity_negative_spike",
        "entity": {"id": "acme", "name": "Acme Corp"},
        "topic": "Entity | Acme Corp",
        "windows_seconds": {"short": 3600, "long": 21600, "baseline": 1209600},
        "baseline": {"total": 50, "negative": 12, "rate": 0.24, "reference_rate": 0.26},
        "short": {"total": 6, "negative": 6, "rate": 1.0, "p_value": 3.1e-4, "breached": True},
        "long": {"total": 7, "negative": 6, "rate": 0.857, "p_value": 1.2e-3, "breached": True},
        "headlines": [
            {
                "id": "e1",
                "title": "Acme recalls product line, shares slide (5)",
                "url": "https://news.example.com/e/recall",
                "source": "seed-wire",
                "published_at": now.isoformat(),
                "matched_text": "Acme",
                "negative_probability": 0.9,
                "method": "headline",
            }
        ],
    }
    insert = text(
        "INSERT INTO alerts (fingerprint, rule, topic, state, started_at, fired_at, ended_at, "
        "last_evaluated_at, evidence) VALUES (:fp, 'entity_negative_spike', "
        "'Entity | Acme Corp', :state, :started, :fired, :ended, :now, "
        "CAST(:evidence AS jsonb)) RETURNING id"
    )
    firing = session.execute(
        insert,
        {
            "fp": "fp-acme",
            "state": "firing",
            "started": now - timedelta(minutes=30),
            "fired": now - timedelta(minutes=25),
            "ended": None,
            "now": now,
            "evidence": json.dumps(evidence),
        },
    ).scalar_one()
    resolved = session.execute(
        insert,
        {
            "fp": "fp-acme-old",
            "state": "resolved",
            "started": now - timedelta(days=3),
            "fired": now - timedelta(days=3) + timedelta(minutes=10),
            "ended": now - timedelta(days=3) + timedelta(hours=2),
            "now": now,
            "evidence": json.dumps(evidence),
        },
    ).scalar_one()
    return int(firing), int(resolved)
