"""Entity alerts against a real PostgreSQL: a burst of negative news about one watchlist entity
fires one entity alert (fingerprint by rule + entity) with the entity and its headlines as
evidence, while the busy topic those headlines belong to stays quiet; the alert resolves after
the burst, and the backtest lists the same alert."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from alerts import entities as entity_rules
from alerts.backtest import backtest
from alerts.config import AlertsConfig
from alerts.evaluator import evaluate, slots_between
from alerts.formats import alertmanager, native, slack
from alerts.state import Alert, Event, State
from storage import models
from storage.db import make_engine, session_scope
from storage.entities import EntityRow, store_entities
from storage.repository import store_classified
from tapewatch.events import ClassifiedHeadline, Headline
from tests.test_alerts_support import SECRET

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CONFIG = {
    "baseline_seconds": 6 * 3600,
    "entities": {"baseline_seconds": 4 * 86400},
    "webhook_secret": SECRET,
    "receivers": [{"name": "ops", "url": "http://127.0.0.1:9/a", "format": "native"}],
}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def seed(engine: Engine) -> None:
    """A busy topic (3 headlines a minute, 30% negative) and one quiet watchlist entity in it
    (a headline every 3 hours, a quarter negative), then 8 negative headlines about the entity
    in 35 minutes."""
    headlines: list[Headline] = []
    results: list[ClassifiedHeadline] = []
    entity_rows: list[EntityRow] = []

    def add(n: int, at: datetime, sentiment: str, title: str, entity: bool) -> None:
        hid = f"{n:032x}"
        headlines.append(
            Headline(
                id=hid, source="wire", title=title, url=f"https://news.example/{hid}",
                published_at=at, ingested_at=at,
            )
        )  # fmt: skip
        p_neg = 0.9 if sentiment == "negative" else 0.05
        results.append(
            ClassifiedHeadline(
                headline_id=hid, source="wire", title=title, url=None, published_at=at,
                topic="Earnings", topic_confidence=0.9, sentiment=sentiment,  # type: ignore[arg-type]
                sentiment_confidence=0.9,
                probabilities={"sentiment": {"negative": p_neg, "neutral": 0.5, "positive": 0.1}},
                model_version="m1", classified_at=at + timedelta(seconds=5),
            )
        )  # fmt: skip
        if entity:
            entity_rows.append(
                EntityRow(
                    headline_id=hid, entity_id="acme", entity_name="Acme Corp",
                    matched_text="Acme", sentiment=sentiment, confidence=0.9,
                    negative_probability=p_neg, model_version="ent-1", method="entity_model",
                    published_at=at, classified_at=at + timedelta(seconds=5),
                    headline_model_version="m1", entity_tickers=("ACME",),
                )
            )  # fmt: skip

    n = 0
    at = T0 - timedelta(hours=7)
    while at < T0 + timedelta(hours=3):
        n += 1
        add(n, at, "negative" if n % 10 < 3 else "neutral", f"Earnings news {n}", False)
        at += timedelta(seconds=20)
    for i, k in enumerate(range(-32, 8)):  # every 3 hours, 4 days back
        n += 1
        sentiment = "negative" if i % 4 == 0 else "positive"
        add(n, T0 + timedelta(hours=3 * k, minutes=7), sentiment, f"Acme update {i}", True)
    for i in range(8):
        n += 1
        at = T0 + timedelta(minutes=30 + 5 * i)
        add(n, at, "negative", f"Acme recalls product line, shares slide {i}", True)
    with session_scope(engine) as session:
        store_classified(session, headlines, results)
        store_entities(session, entity_rows)


def test_an_entity_burst_fires_one_entity_alert_while_its_topic_stays_quiet(
    engine: Engine,
) -> None:
    config = AlertsConfig.model_validate(CONFIG)
    seed(engine)
    for slot in slots_between(T0, T0 + timedelta(hours=3), config.interval_seconds):
        assert evaluate(engine, config, now=slot + timedelta(seconds=3)) is not None

    with session_scope(engine) as s:
        alerts = s.scalars(select(models.Alert).where(models.Alert.fired_at.is_not(None))).all()
        assert [(a.rule, a.topic) for a in alerts] == [
            (entity_rules.RULE, "Entity | Acme Corp")
        ]  # and nothing on Earnings
        (alert,) = alerts
        fired_at = alert.fired_at
        assert alert.fingerprint == entity_rules.fingerprint("acme")
        assert T0 + timedelta(minutes=45) <= alert.fired_at <= T0 + timedelta(minutes=70)
        assert alert.state == "resolved" and alert.ended_at < T0 + timedelta(hours=2, minutes=30)
        evidence = alert.evidence
        assert evidence["entity"] == {"id": "acme", "name": "Acme Corp", "tickers": ["ACME"]}
        assert evidence["short"]["negative"] >= 5 and evidence["short"]["breached"]
        titles = [h["title"] for h in evidence["headlines"]]
        assert titles and all(t.startswith("Acme recalls") for t in titles)
        assert all(h["matched_text"] == "Acme" for h in evidence["headlines"])

        notes = s.scalars(
            select(models.AlertNotification).order_by(models.AlertNotification.id)
        ).all()
        assert [n.event for n in notes] == ["firing", "resolved"]
        payload = notes[0].payload
        assert payload["alert"]["rule"] == entity_rules.RULE
        assert payload["alert"]["evidence"]["entity"]["id"] == "acme"
        # The webhook names the entity (display name, id, tickers), not a topic.
        assert payload["alert"]["entity"] == {
            "id": "acme",
            "name": "Acme Corp",
            "tickers": ["ACME"],
        }
        assert payload["summary"].startswith("Negative news about Acme Corp (acme; ACME): ")
        assert "in the last 1 h" in payload["summary"] and "spike on" not in payload["summary"]
        assert (
            notes[1].payload["summary"]
            == "Resolved: negative news about Acme Corp (acme; ACME) has eased"
        )

    # The backtest replays the same history into the same single alert.
    replay = backtest(engine, config, T0, T0 + timedelta(hours=3))
    assert [(r.topic, r.rule, r.fired_at) for r in replay] == [
        ("Entity | Acme Corp", entity_rules.RULE, fired_at)
    ]


def test_entity_alerts_can_be_turned_off(engine: Engine) -> None:
    config = AlertsConfig.model_validate({**CONFIG, "entities": {"enabled": False}})
    seed(engine)
    for slot in slots_between(T0, T0 + timedelta(hours=2), config.interval_seconds * 5):
        evaluate(engine, config, now=slot + timedelta(seconds=3))
    with session_scope(engine) as s:
        assert s.scalars(select(models.Alert)).all() == []


ENTITY_ALERT = Alert(
    fingerprint=entity_rules.fingerprint("shell"),
    topic="Entity | Shell plc",
    rule=entity_rules.RULE,
    state=State.FIRING,
    started_at=T0,
    last_evaluated_at=T0,
    fired_at=T0,
    evidence={
        "rule": entity_rules.RULE,
        "entity": {"id": "shell", "name": "Shell plc", "tickers": ["SHEL", "RDSA"]},
        "windows_seconds": {"short": 3600, "long": 21600, "baseline": 1209600},
        "short": {"total": 6, "negative": 5, "rate": 5 / 6, "p_value": 0.004},
        "baseline": {"reference_rate": 0.25},
        "headlines": [
            {
                "title": "Shell <halts> refinery",
                "url": "https://n.example/1",
                "matched_text": "Shell",
            },
        ],
    },
    id=7,
)


def test_entity_alert_payloads_name_the_entity_in_every_format() -> None:
    line = (
        "Negative news about Shell plc (shell; SHEL, RDSA): 83% of its headlines negative "
        "(5 of 6 in the last 1 h) vs 25% baseline"
    )
    body = native(ENTITY_ALERT, Event.FIRING, "ops", "k" * 32)
    assert body["summary"] == line
    assert body["alert"]["entity"] == {
        "id": "shell",
        "name": "Shell plc",
        "tickers": ["SHEL", "RDSA"],
    }
    assert body["alert"]["topic"] == "Entity | Shell plc"  # receivers route by it as before
    am = alertmanager(ENTITY_ALERT, Event.FIRING, "ops", "k" * 32)
    labels = am["alerts"][0]["labels"]
    assert (labels["entity_id"], labels["entity"], labels["tickers"]) == (
        "shell",
        "Shell plc",
        "SHEL,RDSA",
    )
    assert am["commonAnnotations"]["summary"] == line
    sl = slack(ENTITY_ALERT, Event.FIRING, "ops", "k" * 32)
    assert sl["text"] == line
    assert "Shell &lt;halts&gt; refinery> _(Shell)_" in sl["blocks"][1]["text"]["text"]
    resolved = native(ENTITY_ALERT, Event.RESOLVED, "ops", "k" * 32)
    assert (
        resolved["summary"]
        == "Resolved: negative news about Shell plc (shell; SHEL, RDSA) has eased"
    )
    # A topic alert keeps the topic wording and gains no entity fields.
    topic = dataclasses.replace(
        ENTITY_ALERT, rule="negative_spike", topic="Energy | Oil", evidence={}
    )
    assert native(topic, Event.FIRING, "ops", "k" * 32)["summary"].startswith(
        "Negative-sentiment spike on Energy | Oil"
    )
    assert "entity" not in native(topic, Event.FIRING, "ops", "k" * 32)["alert"]
    assert "entity_id" not in alertmanager(topic, Event.FIRING, "ops", "k")["alerts"][0]["labels"]
