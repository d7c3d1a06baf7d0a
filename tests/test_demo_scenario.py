"""The demo scenario: what is replayed from the labelled data, at what pace, and the burst."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tapewatch.demo.scenario import Pools, Scenario, Stream, load_pools, tidy
from tapewatch.settings import Settings


def _write(path: Path, rows: list[tuple[str, int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    topic = [
        ("Oil prices slump as OPEC output rises https://t.co/abc", 6),  # energy, falling
        ("Oil majors meet in Vienna", 6),  # energy, nothing negative
        ("Fed holds rates steady", 1),
    ]
    sentiment = [
        ("Crude sinks 5% to a four-year low", 0),  # Bearish, energy
        ("Apple shares tumble after warning", 0),  # Bearish, not energy
        ("Exxon raises dividend", 1),
    ]
    for split in ("train.csv", "valid.csv"):
        _write(tmp_path / "twitter-financial-news-topic" / split, topic)
        _write(tmp_path / "twitter-financial-news-sentiment" / split, sentiment)
    return tmp_path


def test_burst_pool_is_negative_energy_news_and_kept_out_of_the_baseline(data_dir: Path) -> None:
    pools = load_pools(data_dir)
    assert sorted(pools.burst) == [
        "Crude sinks 5% to a four-year low",
        "Oil prices slump as OPEC output rises",
    ]
    assert sorted(pools.baseline) == [
        "Apple shares tumble after warning",
        "Exxon raises dividend",
        "Fed holds rates steady",
        "Oil majors meet in Vienna",
    ]


def test_tweets_read_as_headlines() -> None:
    tweet = "  Oil  slides amid   uncertainty https://t.co/x1 …"
    assert tidy(tweet) == "Oil slides amid uncertainty"


def test_live_stream_is_paced_and_bursts_only_in_its_window() -> None:
    pools = Pools(baseline=[f"calm {i}" for i in range(50)], burst=["oil crashes"])
    scenario = Scenario(rate_per_s=20, burst_after_s=10, burst_seconds=5, burst_share=0.5)
    stream = Stream(pools, scenario).live()
    items = [next(stream) for _ in range(20 * 30)]  # 30 seconds
    assert [round(i.offset_s, 6) for i in items[:3]] == [0.0, 0.05, 0.1]
    in_window = [i for i in items if 10 <= i.offset_s < 15]
    outside = [i for i in items if not 10 <= i.offset_s < 15]
    assert not any(i.burst for i in outside)
    burst_share = sum(i.burst for i in in_window) / len(in_window)
    assert 0.3 < burst_share < 0.7
    assert all(i.title == "oil crashes" for i in in_window if i.burst)


def test_backfill_spreads_history_over_the_past_from_the_baseline_only() -> None:
    pools = Pools(baseline=["calm"], burst=["oil crashes"])
    history = Stream(pools, Scenario(backfill_minutes=30, backfill_per_minute=10)).backfill()
    assert len(history) == 300
    assert history[0].offset_s == -1800
    assert all(-1800 <= h.offset_s < 0 for h in history)
    assert {h.title for h in history} == {"calm"}
    assert Stream(pools, Scenario(backfill_minutes=0)).backfill() == []


def test_the_shared_data_has_enough_for_the_demo() -> None:
    pools = load_pools(Settings().data_dir)
    assert len(pools.baseline) > 20_000
    assert len(pools.burst) > 200
    assert not set(pools.burst) & set(pools.baseline)
