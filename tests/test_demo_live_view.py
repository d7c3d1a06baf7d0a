"""The live view of `tapewatch up`, read from a real PostgreSQL: sentiment per topic, latency,
alerts and feed trouble, drawn with rich and summarised in one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from sqlalchemy import create_engine, text

from tapewatch.live_view import Collector, render, summary_line


def _seed(database_url: str) -> None:
    now = datetime.now(UTC)
    engine = create_engine(database_url)
    rows = [
        ("Energy | Oil", "negative", 0.5),
        ("Energy | Oil", "negative", 1.5),
        ("Energy | Oil", "neutral", 0.5),
        ("Fed | Central Banks", "positive", 0.5),
    ]
    with engine.begin() as conn:
        for i, (topic, sentiment, latency) in enumerate(rows):
            ingested = now - timedelta(seconds=5)
            conn.execute(
                text(
                    "INSERT INTO headlines (id, source, title, published_at, ingested_at) "
                    "VALUES (:id, 'demo-replay', :title, :at, :at)"
                ),
                {"id": f"h{i}", "title": f"headline {i}", "at": ingested},
            )
            conn.execute(
                text(
                    "INSERT INTO classifications (headline_id, model_version, topic, "
                    "topic_confidence, sentiment, sentiment_confidence, negative_probability, "
                    "probabilities, published_at, classified_at) VALUES (:id, 'm1', :topic, 0.9, "
                    ":sentiment, 0.9, 0.5, '{}', :at, :classified)"
                ),
                {
                    "id": f"h{i}",
                    "topic": topic,
                    "sentiment": sentiment,
                    "at": ingested,
                    "classified": ingested + timedelta(seconds=latency),
                },
            )
        conn.execute(
            text(
                "INSERT INTO alerts (fingerprint, rule, topic, state, started_at, fired_at, "
                "last_evaluated_at, evidence) VALUES ('fp', 'negative_spike', 'Energy | Oil', "
                "'firing', :at, :at, :at, '{}')"
            ),
            {"at": now},
        )
        conn.execute(
            text(
                "INSERT INTO feed_state (source, consecutive_failures, last_status, "
                "next_poll_after) VALUES ('bbc-business', 2, 'connect', :at)"
            ),
            {"at": now + timedelta(minutes=2)},
        )
    engine.dispose()


def test_live_view_shows_topics_latency_alerts_and_feeds(database_url: str, tmp_path: Path) -> None:
    _seed(database_url)
    received = tmp_path / "alerts.jsonl"
    received.write_text(
        json.dumps(
            {
                "received_at": datetime.now(UTC).isoformat(),
                "idempotency_key": "k",
                "payload": {"event": "firing", "summary": "Negative-sentiment spike on Energy"},
            }
        )
        + "\n"
    )
    collector = Collector(
        create_engine(database_url),
        ingest_metrics_url=None,
        classify_metrics_url=None,
        received_path=received,
        started_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    try:
        snap = collector.collect()
    finally:
        collector.close()

    assert [(t.topic, t.headlines, t.negative) for t in snap.topics] == [
        ("Energy | Oil", 3, 2),
        ("Fed | Central Banks", 1, 0),
    ]
    assert snap.stored_total == 4
    assert snap.latency_count == 4
    assert snap.latency_p50_s is not None and abs(snap.latency_p50_s - 0.5) < 0.01
    assert snap.first_classified_at is not None

    console = Console(record=True, width=140)
    console.print(render(snap, "Tapewatch test"))
    screen = console.export_text()
    for expected in (
        "Energy | Oil",
        "67%",  # its negative share
        "p50 0.50 s",
        "firing",
        "FIRING: Negative-sentiment spike on Energy",
        "feed bbc-business: unreachable (connect)",
    ):
        assert expected in screen, screen

    line = summary_line(snap)
    assert "4 classified in total" in line
    assert "1 alert(s) firing, 1 received" in line
