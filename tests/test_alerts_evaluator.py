"""Detection and lifecycle against a real PostgreSQL with seeded classifications: a genuine
spike fires once and resolves, quiet and noisy topics stay quiet, notifications are queued per
routed receiver, and a backtest over the same history lists exactly what the live evaluator
fired."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from alerts.backtest import backtest
from alerts.config import AlertsConfig
from alerts.detector import Counts
from alerts.evaluator import evaluate, slots_between
from alerts.windows import Bounds, window_counts
from storage import models
from storage.db import make_engine, session_scope
from tests.test_alerts_support import SECRET, T0, Row, seed, spike_scenario

BIN = Path(sys.executable).parent / "tapewatch"
SINCE, UNTIL = T0, T0 + timedelta(hours=2)

# Production defaults except a 6-hour baseline (less to seed) and the receivers.
TEST_ALERTS = {
    "baseline_seconds": 6 * 3600,
    "webhook_secret": SECRET,
    "receivers": [
        {"name": "all-native", "url": "http://127.0.0.1:9/a", "format": "native"},
        {"name": "earnings-am", "url": "http://127.0.0.1:9/b", "format": "alertmanager",
         "topics": ["Earnings"]},
        {"name": "fed-slack", "url": "http://127.0.0.1:9/c", "format": "slack",
         "topics": ["Fed | Central Banks"]},
    ],
}  # fmt: skip


@pytest.fixture
def config() -> AlertsConfig:
    return AlertsConfig.model_validate(TEST_ALERTS)


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def live_run(engine: Engine, config: AlertsConfig) -> None:
    for slot in slots_between(SINCE, UNTIL, config.interval_seconds):
        assert evaluate(engine, config, now=slot + timedelta(seconds=3)) is not None


def fired_alerts(engine: Engine) -> list[tuple[str, datetime, datetime | None]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(models.Alert.topic, models.Alert.fired_at, models.Alert.ended_at)
            .where(models.Alert.fired_at.is_not(None))
            .order_by(models.Alert.fired_at)
        ).all()
    return [tuple(r) for r in rows]


def test_a_spike_fires_once_resolves_and_quiet_topics_stay_quiet(
    engine: Engine, config: AlertsConfig
) -> None:
    seed(engine, spike_scenario())
    live_run(engine, config)

    fired = fired_alerts(engine)
    assert [topic for topic, _, _ in fired] == ["Earnings"]
    _, fired_at, ended_at = fired[0]
    spike_start, spike_end = T0 + timedelta(minutes=20), T0 + timedelta(minutes=50)
    # Fires once the hour-long confirmation window agrees, plus the pending time...
    assert spike_start < fired_at <= spike_start + timedelta(minutes=20)
    # ...and resolves once the spike has left the short window.
    assert ended_at is not None
    assert spike_end < ended_at <= spike_end + timedelta(minutes=16)

    with session_scope(engine) as s:
        alert = s.scalars(select(models.Alert).where(models.Alert.fired_at.is_not(None))).one()
        assert alert.state == "resolved"
        evidence = alert.evidence
        notes = s.execute(
            select(models.AlertNotification.receiver, models.AlertNotification.event)
        ).all()
        # Noisy Markets and bursty low-volume Dividends never even went pending.
        others = s.scalars(select(models.Alert.topic).where(models.Alert.topic != "Earnings"))
        assert list(others) == []
        slots = s.scalar(select(func.count()).select_from(models.AlertEvaluation))

    # Evidence: current vs baseline rate, the test statistic, counts, headlines with links.
    assert evidence["short"]["rate"] > 0.5 > 0.3 > evidence["baseline"]["rate"]
    assert evidence["short"]["p_value"] < config.max_p_value
    assert evidence["short"]["total"] >= config.min_count_short
    assert evidence["baseline"]["total"] > 300
    headlines = evidence["headlines"]
    assert len(headlines) == config.representative_headlines
    assert all(h["url"].startswith("https://news.example/") for h in headlines)
    probabilities = [h["negative_probability"] for h in headlines]
    assert probabilities == sorted(probabilities, reverse=True) and probabilities[0] > 0.9
    assert evidence["at_resolve"]["short"]["breached"] is False

    # One firing and one resolved notification per receiver routed to Earnings; none for Fed's.
    assert Counter(notes) == Counter(
        {
            ("all-native", "firing"): 1,
            ("all-native", "resolved"): 1,
            ("earnings-am", "firing"): 1,
            ("earnings-am", "resolved"): 1,
        }
    )
    assert slots == len(list(slots_between(SINCE, UNTIL, 60)))


def test_evaluating_a_slot_twice_does_nothing_the_second_time(
    engine: Engine, config: AlertsConfig
) -> None:
    seed(engine, spike_scenario())
    now = T0 + timedelta(minutes=40, seconds=5)
    first = evaluate(engine, config, now=now)
    assert first is not None and first.topics == 3
    assert evaluate(engine, config, now=now + timedelta(seconds=30)) is None  # same interval
    assert evaluate(engine, config, now=now + timedelta(seconds=60)) is not None  # the next one


def test_backtest_lists_what_the_live_evaluator_fired(engine: Engine, config: AlertsConfig) -> None:
    seed(engine, spike_scenario())
    replay = backtest(engine, config, SINCE, UNTIL)
    with session_scope(engine) as s:  # the backtest wrote and queued nothing
        assert s.scalar(select(func.count()).select_from(models.Alert)) == 0
        assert s.scalar(select(func.count()).select_from(models.AlertEvaluation)) == 0
    live_run(engine, config)
    assert [(a.topic, a.fired_at, a.resolved_at) for a in replay] == fired_alerts(engine)
    assert replay[0].notifications == 2  # firing + resolved
    assert replay[0].peak_rate > 0.6 and replay[0].min_p_value < config.max_p_value


def test_backtest_command_prints_the_same_alerts(
    engine: Engine, config: AlertsConfig, database_url: str
) -> None:
    seed(engine, spike_scenario())
    live_run(engine, config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWATCH_")}
    env |= {
        "TAPEWATCH_DATABASE_URL": database_url,
        "TAPEWATCH_ALERTS__BASELINE_SECONDS": str(TEST_ALERTS["baseline_seconds"]),
    }
    args = ["alerts", "backtest", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]
    out = subprocess.run([BIN, *args, "--json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    listed = [json.loads(line) for line in out.stdout.splitlines()]
    assert [
        (
            a["topic"],
            datetime.fromisoformat(a["fired_at"]),
            datetime.fromisoformat(a["resolved_at"]),
        )
        for a in listed
    ] == fired_alerts(engine)
    table = subprocess.run(
        [BIN, *args], env=env | {"COLUMNS": "200"}, capture_output=True, text=True
    )
    assert table.returncode == 0, table.stderr
    assert "would have fired: 1" in table.stdout and "Earnings" in table.stdout


def test_a_reclassified_headline_counts_once_with_its_latest_verdict(engine: Engine) -> None:
    at = T0 - timedelta(minutes=5)
    rows = [Row("Earnings", "neutral", at, model="old")] * 10
    ids = seed(engine, rows, ids=range(10**6, 10**6 + 10))
    # A newer model re-reads the same ten headlines an hour later: six are negative now.
    newer = [
        Row("Earnings", "negative" if i < 6 else "neutral", at, model="new",
            classified_after=timedelta(hours=1))
        for i in range(10)
    ]  # fmt: skip
    seed(engine, newer, ids=range(10**6, 10**6 + 10))
    bounds = Bounds.at(T0, AlertsConfig())
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(models.Classification)) == 20
        counts = window_counts(s, bounds)
    assert len(ids) == 10
    assert counts["Earnings"].short == Counts(total=10, negative=6)
