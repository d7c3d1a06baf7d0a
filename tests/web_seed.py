"""Seeded data for the web tests: two days of classified headlines across topics with a
negative Energy | Oil burst in the last half hour, syndicated copies, hostile titles and links,
an alert with its evidence and webhook delivery attempts, and feed states. Written through
``storage.repository.store_classified`` (so the rollup trigger runs) and plain SQL for the
alert tables."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from storage import make_engine, session_scope
from storage.repository import store_classified
from tapewatch.events import ClassifiedHeadline, Headline

TOPICS = ["Earnings", "Energy | Oil", "Macro", "M&A | Investments", "Markets", "Dividend"]
EVIL_TITLE = (
    '<script>window.__pwned = 1</script>Oil <b>crashes</b> "quoted" & <img src=x onerror=alert(1)>'
)
EVIL_URL = "javascript:alert(document.cookie)"
BURST_MINUTES = 30


def hid(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


@dataclass
class Seeded:
    now: datetime
    headlines: int = 0
    alert_id: int = 0
    cluster_id: str = ""
    evil_id: str = ""
    per_topic: dict[str, int] = field(default_factory=dict)


def pair(
    n: int,
    *,
    topic: str,
    sentiment: str,
    at: datetime,
    title: str | None = None,
    url: str | None = None,
    source: str = "seed-wire",
    tickers: list[str] | None = None,
    cluster: str | None = None,
) -> tuple[Headline, ClassifiedHeadline]:
    h_id = hid("seed", n)
    p_neg = 0.9 if sentiment == "negative" else 0.05
    h = Headline(
        id=h_id,
        source=source,
        title=title or f"{topic} headline number {n} about Acme Corp",
        url=url if url is not None else f"https://news.example.com/{n}",
        published_at=at,
        ingested_at=at,
        tickers=tickers or [],
        cluster_id=cluster or h_id,
    )
    c = ClassifiedHeadline(
        headline_id=h.id,
        source=h.source,
        title=h.title,
        url=h.url,
        published_at=at,
        topic=topic,
        topic_confidence=0.91,
        sentiment=sentiment,
        sentiment_confidence=0.87,
        probabilities={"sentiment": {"negative": p_neg, "neutral": 0.05, "positive": 0.9 - p_neg}},
        model_version="seed-model-1",
        classified_at=at + timedelta(seconds=2),
    )
    return h, c


def seed(database_url: str, now: datetime | None = None, hours: int = 48) -> Seeded:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    rng = random.Random(11)
    out = Seeded(now=now)
    pairs = []
    n = 0
    for minute in range(hours * 60, 0, -2):
        at = now - timedelta(minutes=minute)
        for topic in TOPICS:
            burst = topic == "Energy | Oil" and minute <= BURST_MINUTES
            for _ in range(rng.randint(0, 2) + (2 if burst else 0)):
                negative = rng.random() < (0.8 if burst else 0.2)
                sentiment = "negative" if negative else rng.choice(["neutral", "positive"])
                pairs.append(
                    pair(
                        n, topic=topic, sentiment=sentiment, at=at, tickers=["ACME"] * (n % 7 == 0)
                    )
                )
                out.per_topic[topic] = out.per_topic.get(topic, 0) + 1
                n += 1
    # A syndicated story: one original and two copies in the same cluster.
    out.cluster_id = hid("seed", n)
    for i, source in enumerate(["wire-a", "wire-b", "wire-c"]):
        pairs.append(
            pair(
                n,
                topic="Markets",
                sentiment="neutral",
                at=now - timedelta(minutes=3, seconds=i),
                title=f"Syndicated: Zorblax Industries beats estimates ({source})",
                source=source,
                cluster=out.cluster_id,
                tickers=["ZBLX"],
            )
        )
        n += 1
    # Hostile text from the internet: markup in the title, a script URL as the link.
    h, c = pair(
        n,
        topic="Energy | Oil",
        sentiment="negative",
        at=now - timedelta(minutes=1),
        title=EVIL_TITLE,
        url=EVIL_URL,
        source="hostile-feed",
    )
    out.evil_id = h.id
    pairs.append((h, c))
    n += 1
    engine = make_engine(database_url)
    try:
        for start in range(0, len(pairs), 500):
            chunk = pairs[start : start + 500]
            with session_scope(engine) as session:
                store_classified(session, [p[0] for p in chunk], [p[1] for p in chunk])
        out.headlines = len(pairs)
        with session_scope(engine) as session:
            out.alert_id = _seed_alert(session, now)
            _seed_feeds(session, now)
    finally:
        engine.dispose()
    return out


def _seed_alert(session, now: datetime) -> int:  # type: ignore[no-untyped-def]
    evidence = {
        "rule": "negative_spike",
        "topic": "Energy | Oil",
        "windows_seconds": {"short": 900, "long": 3600, "baseline": 604800},
        "baseline": {"total": 1800, "negative": 360, "rate": 0.2, "reference_rate": 0.22},
        "short": {"total": 40, "negative": 31, "rate": 0.775, "p_value": 1.2e-9, "breached": True},
        "long": {"total": 90, "negative": 52, "rate": 0.578, "p_value": 3.1e-7, "breached": True},
        "headlines": [
            {
                "id": "x1",
                "title": EVIL_TITLE,
                "url": EVIL_URL,
                "source": "hostile-feed",
                "published_at": now.isoformat(),
                "negative_probability": 0.99,
            },
            {
                "id": "x2",
                "title": "Crude slumps as OPEC output rises",
                "url": "https://news.example.com/crude",
                "source": "seed-wire",
                "published_at": now.isoformat(),
                "negative_probability": 0.97,
            },
        ],
    }
    alert_id = session.execute(
        text(
            "INSERT INTO alerts (fingerprint, rule, topic, state, started_at, fired_at, "
            "last_evaluated_at, last_notified_at, evidence) VALUES ('fp-energy', "
            "'negative_spike', 'Energy | Oil', 'firing', :started, :fired, :now, :fired, "
            "CAST(:evidence AS jsonb)) RETURNING id"
        ),
        {
            "started": now - timedelta(minutes=25),
            "fired": now - timedelta(minutes=22),
            "now": now,
            "evidence": json.dumps(evidence),
        },
    ).scalar_one()
    session.execute(
        text(
            "INSERT INTO alerts (fingerprint, rule, topic, state, started_at, fired_at, ended_at, "
            "last_evaluated_at, evidence) VALUES ('fp-macro', 'negative_spike', 'Macro', "
            "'resolved', :s, :f, :e, :e, '{}'::jsonb)"
        ),
        {
            "s": now - timedelta(hours=20),
            "f": now - timedelta(hours=19, minutes=50),
            "e": now - timedelta(hours=18),
        },
    )
    notification = session.execute(
        text(
            "INSERT INTO alert_notifications (alert_id, idempotency_key, event, receiver, format, "
            "payload, status, attempts, next_attempt_at, delivered_at) VALUES (:a, 'key-1', "
            "'firing', 'oncall', 'native', '{}'::jsonb, 'delivered', 2, :t, :t) RETURNING id"
        ),
        {"a": alert_id, "t": now - timedelta(minutes=21)},
    ).scalar_one()
    for attempt, outcome, code, error in (
        (1, "retryable", 503, "HTTP 503 Service Unavailable"),
        (2, "delivered", 200, None),
    ):
        session.execute(
            text(
                "INSERT INTO alert_delivery_attempts (notification_id, attempt, attempted_at, "
                "outcome, status_code, error, duration_ms) VALUES (:n, :a, :t, :o, :c, :e, 12.5)"
            ),
            {
                "n": notification,
                "a": attempt,
                "t": now - timedelta(minutes=22 - attempt),
                "o": outcome,
                "c": code,
                "e": error,
            },
        )
    return int(alert_id)


def _seed_feeds(session, now: datetime) -> None:  # type: ignore[no-untyped-def]
    session.execute(
        text(
            "INSERT INTO feed_state (source, url, last_polled_at, last_status, last_success_at, "
            "consecutive_failures) VALUES ('good-feed', 'https://feeds.example.com/rss', :t, "
            "'200', :t, 0), ('bad-feed', 'https://down.example.com/rss', :t, 'timeout', NULL, 3)"
        ),
        {"t": now - timedelta(minutes=1)},
    )
