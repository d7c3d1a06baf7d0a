"""Headline ids, SimHash near-duplicate search and the persistent seen-set."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ingest.dedupe import (
    SeenRecord,
    SeenStore,
    SimIndex,
    from_signed64,
    headline_id,
    simhash64,
    to_signed64,
)
from storage.db import make_engine

NOW = datetime(2024, 6, 12, 12, 0, tzinfo=UTC)


def test_ids_are_stable_and_url_based_when_there_is_a_url() -> None:
    a = headline_id("https://example.com/a", "feed-1", "Title")
    assert a == headline_id("https://example.com/a", "feed-2", "Another title")
    assert a != headline_id("https://example.com/b", "feed-1", "Title")
    assert len(a) == 32 and int(a, 16) >= 0
    # Without a URL: source + case-folded title.
    assert headline_id(None, "s", "Fed Holds") == headline_id(None, "s", "fed holds")
    assert headline_id(None, "s", "Fed holds") != headline_id(None, "t", "Fed holds")


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_simhash_survives_the_signed_bigint_column(value: int) -> None:
    signed = to_signed64(value)
    assert -(2**63) <= signed < 2**63
    assert from_signed64(signed) == value


def test_syndicated_copies_are_near_and_different_stories_are_far() -> None:
    pairs = [
        (
            "Apple beats earnings estimates as iPhone sales jump",
            "Apple beats earnings estimates as iPhone sales jump - Reuters",
        ),
        (
            "Fed holds rates steady, signals two cuts later this year",
            "UPDATE 1-Fed holds rates steady and signals two cuts later this year",
        ),
        (
            "Oil prices fall as OPEC+ agrees to boost output",
            "Oil prices fall after OPEC+ agrees to boost output | Example News",
        ),
    ]
    for a, b in pairs:
        assert (simhash64(a) ^ simhash64(b)).bit_count() <= 4, (a, b)
    unrelated = [
        "Apple beats earnings estimates as iPhone sales jump",
        "Fed holds rates steady, signals two cuts later this year",
        "Automaker recalls 500,000 vehicles over airbag defect",
        "Gold hits record high as investors seek safety",
    ]
    for i, a in enumerate(unrelated):
        for b in unrelated[i + 1 :]:
            assert (simhash64(a) ^ simhash64(b)).bit_count() > 8, (a, b)


def test_sim_index_finds_every_hash_within_the_distance_and_none_beyond() -> None:
    rng = random.Random(7)
    index = SimIndex(max_distance=4, window=timedelta(hours=1))
    stored = [rng.getrandbits(64) for _ in range(300)]
    for i, value in enumerate(stored):
        index.add(value, f"c{i}", NOW)
    for i, value in enumerate(stored):
        near = value
        for bit in rng.sample(range(64), 4):
            near ^= 1 << bit
        assert index.find(near) == f"c{i}"
        far = value
        for bit in rng.sample(range(64), 20):
            far ^= 1 << bit
        assert index.find(far) is None  # random 64-bit hashes are ~32 bits apart


def test_sim_index_forgets_stories_older_than_its_window() -> None:
    index = SimIndex(max_distance=3, window=timedelta(hours=1))
    index.add(0xABCDEF, "old", NOW)
    index.add(0x123456789, "new", NOW + timedelta(minutes=90))
    assert index.find(0xABCDEF) is None and index.find(0x123456789) == "new"
    assert len(index) == 1


def test_seen_set_survives_a_restart_and_reloads_clusters(database_url: str) -> None:
    engine = make_engine(database_url)
    store = SeenStore(engine, SimIndex(4, timedelta(hours=72)))
    title_hash = simhash64("Fed holds rates steady, signals two cuts later this year")
    high_bit = (1 << 63) | 5  # negative once stored as BIGINT
    now = datetime.now(UTC)
    store.record(
        [
            SeenRecord("a" * 32, "feed", title_hash, "a" * 32, now),
            SeenRecord("b" * 32, "feed", high_bit, "b" * 32, now),
        ]
    )
    store.record([SeenRecord("a" * 32, "feed", 1, "z" * 32, now)])  # repeat: first row kept

    restarted = SeenStore(engine, SimIndex(4, timedelta(hours=72)))
    assert restarted.load_recent(now) == 2
    assert restarted.already_seen(["a" * 32, "c" * 32]) == {"a" * 32}
    copy = simhash64("UPDATE 1-Fed holds rates steady, signals two cuts later this year - Wire")
    assert restarted.find_cluster(copy) == "a" * 32
    assert restarted.find_cluster(high_bit) == "b" * 32
    engine.dispose()
