"""`tapewatch models diff A B` against a real PostgreSQL: two versions classify the same seeded
history and disagree on known rows (B reads the Earnings burst's negatives as neutral and moves
five Markets headlines to another topic). The report's agreement overall and per topic, the
sentiment confusion, the topic swaps and the top disagreements equal what the seeded rows
imply, and the backtest under A fires on the burst while the one under B stays quiet."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from alerts.config import AlertsConfig
from alerts.rules import RULE
from classify.diff import diff
from storage import model_versions as mv
from storage.db import make_engine
from tests.conftest import BIN, cli_env
from tests.test_alerts_evaluator import TEST_ALERTS
from tests.test_alerts_support import T0, Row, seed, spike_scenario

VA, VB = "aaaa1111aaaa1111", "bbbb2222bbbb2222"
SINCE, UNTIL = T0, T0 + timedelta(hours=2)
SPIKE = (T0 + timedelta(minutes=20), T0 + timedelta(minutes=50))
FIRST_ID = 5 * 10**6
# The one headline whose P(negative) moves furthest between the two: the top disagreement.
LOUDEST_AT = T0 + timedelta(minutes=35, seconds=7)


@dataclass(frozen=True)
class Seeded:
    ids: list[str]
    a: list[Row]
    b: list[Row]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _read_by_b(row: Row, markets_seen: list[int]) -> Row:
    """B's verdict on a row A judged: blind to the burst, and five Markets rows elsewhere."""
    later = timedelta(hours=1)
    in_spike = SPIKE[0] <= row.published_at < SPIKE[1]
    if row.topic == "Earnings" and in_spike and row.sentiment == "negative":
        return replace(row, sentiment="neutral", p_neg=0.0, model=VB, classified_after=later)
    if row.topic == "Markets" and SINCE <= row.published_at < UNTIL and len(markets_seen) < 5:
        markets_seen.append(1)
        return replace(row, topic="Stock Movement", model=VB, classified_after=later)
    return replace(row, model=VB, classified_after=later)


def seed_two_versions(engine: Engine) -> Seeded:
    rows_a = [replace(r, model=VA) for r in spike_scenario()]
    rows_a.append(Row("Earnings", "negative", LOUDEST_AT, p_neg=1.0, model=VA))
    markets_seen: list[int] = []
    rows_b = [_read_by_b(r, markets_seen) for r in rows_a]
    ids = range(FIRST_ID, FIRST_ID + len(rows_a))
    stored = seed(engine, rows_a, ids=ids)
    assert seed(engine, rows_b, ids=ids) == stored  # the same headlines, re-read by B
    assert mv.register(engine, VA, None, activate_if_none=True) is True
    assert mv.register(engine, VB, None, activate_if_none=True) is False
    return Seeded(stored, rows_a, rows_b)


def expected(seeded: Seeded, since: datetime, until: datetime) -> dict[str, Any]:
    """What the report must say, counted from the seeded rows in Python."""
    pairs = [
        (hid, a, b)
        for hid, a, b in zip(seeded.ids, seeded.a, seeded.b, strict=True)
        if since <= a.published_at < until
    ]
    n = len(pairs)
    per_topic: dict[str, list[int]] = {}
    for _, a, b in pairs:
        row = per_topic.setdefault(a.topic, [0, 0, 0])
        row[0] += 1
        row[1] += a.topic == b.topic
        row[2] += a.sentiment == b.sentiment
    confusion: dict[str, dict[str, int]] = {}
    for (sa, sb), count in Counter((a.sentiment, b.sentiment) for _, a, b in pairs).items():
        confusion.setdefault(sa, {})[sb] = count
    flips = [hid for hid, a, b in pairs if a.sentiment != b.sentiment]
    swaps = Counter((a.topic, b.topic) for _, a, b in pairs if a.topic != b.topic)
    return {
        "headlines": n,
        "agreement": {
            "topic": sum(a.topic == b.topic for _, a, b in pairs) / n,
            "sentiment": sum(a.sentiment == b.sentiment for _, a, b in pairs) / n,
            "both": sum(a.topic == b.topic and a.sentiment == b.sentiment for _, a, b in pairs) / n,
        },
        "per_topic": sorted(
            (
                {"topic": t, "n": v[0], "topic_agree": v[1], "sentiment_agree": v[2]}
                for t, v in per_topic.items()
            ),
            key=lambda r: (-r["n"], r["topic"]),
        ),
        "sentiment_confusion": confusion,
        "topic_swaps": [
            {"topic_a": ta, "topic_b": tb, "n": c} for (ta, tb), c in sorted(swaps.items())
        ],
        "flips": flips,
    }


def run_diff(database_url: str, *args: str) -> dict[str, Any]:
    env = cli_env(
        TAPEWATCH_DATABASE_URL=database_url,
        TAPEWATCH_ALERTS__BASELINE_SECONDS=str(TEST_ALERTS["baseline_seconds"]),
    )
    out = subprocess.run(
        [BIN, "models", "diff", *args, "--json"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_models_diff_reports_agreement_confusion_disagreements_and_alerts(
    engine: Engine, database_url: str
) -> None:
    seeded = seed_two_versions(engine)
    want = expected(seeded, SINCE, UNTIL)
    # Prefixes name the versions, as an operator would type them.
    report = run_diff(database_url, "aaaa", "bbbb", "--since", SINCE.isoformat(), "--until",
                      UNTIL.isoformat())  # fmt: skip
    assert (report["a"], report["b"]) == (VA, VB)
    assert report["headlines"] == want["headlines"] == 120 + 60 + 120 + 10 + 4 + 1
    assert report["agreement"] == pytest.approx(want["agreement"])
    assert report["agreement"]["sentiment"] < 0.95  # the burst is a real disagreement
    assert report["per_topic"] == want["per_topic"]
    [markets] = [t for t in report["per_topic"] if t["topic"] == "Markets"]
    assert markets["topic_agree"] == markets["n"] - 5
    assert report["sentiment_confusion"] == want["sentiment_confusion"]
    assert report["sentiment_confusion"]["negative"]["neutral"] == len(want["flips"]) > 20
    assert "positive" not in report["sentiment_confusion"]["negative"]
    assert report["topic_swaps"] == want["topic_swaps"]
    assert report["topic_swaps"] == [{"topic_a": "Markets", "topic_b": "Stock Movement", "n": 5}]

    top = report["disagreements"]
    assert len(top) == 10  # the default --limit
    assert top[0]["headline_id"] == seeded.ids[-1]  # P(negative) 1.0 -> 0.0
    assert (top[0]["neg_a"], top[0]["neg_b"]) == pytest.approx((1.0, 0.0))
    assert all(d["sentiment_a"] == "negative" and d["sentiment_b"] == "neutral" for d in top)
    assert {d["headline_id"] for d in top} <= set(want["flips"])
    deltas = [abs(d["neg_a"] - d["neg_b"]) for d in top]
    assert deltas == sorted(deltas, reverse=True)

    # A reads the Earnings burst and fires on it; B, blind to it, fires nothing.
    fired_a = [(x["topic"], x["rule"]) for x in report["alerts"]["a"]]
    assert fired_a == [("Earnings", RULE)]
    start = datetime.fromisoformat(report["alerts"]["a"][0]["fired_at"])
    assert SPIKE[0] <= start <= SPIKE[1]
    assert report["alerts"]["b"] == []

    # --since narrows the period.
    later = T0 + timedelta(minutes=40)
    narrowed = run_diff(database_url, VA, VB, "--since", later.isoformat(), "--until",
                        UNTIL.isoformat(), "--limit", "3", "--no-alerts")  # fmt: skip
    want_later = expected(seeded, later, UNTIL)
    assert narrowed["headlines"] == want_later["headlines"] < report["headlines"]
    assert narrowed["sentiment_confusion"] == want_later["sentiment_confusion"]
    assert narrowed["per_topic"] == want_later["per_topic"]
    assert len(narrowed["disagreements"]) == 3
    assert narrowed["alerts"] == {"a": [], "b": []}


def test_diff_function_swapped_versions_mirror_the_confusion(engine: Engine) -> None:
    seeded = seed_two_versions(engine)
    config = AlertsConfig.model_validate(TEST_ALERTS)
    ab = diff(engine, config, VA, VB, SINCE, UNTIL, with_alerts=True)
    ba = diff(engine, config, VB, VA, SINCE, UNTIL, with_alerts=True)
    assert ab.n == ba.n == expected(seeded, SINCE, UNTIL)["headlines"]
    for sa, row in ab.sentiment_confusion.items():
        for sb, count in row.items():
            assert ba.sentiment_confusion[sb][sa] == count
    assert [x.topic for x in ab.alerts_a] == [x.topic for x in ba.alerts_b] == ["Earnings"]
    assert ab.alerts_b == ba.alerts_a == []
