"""The demo's own headline stream, for a fresh clone without the labelled data: invented
companies, a wire-like mix of topics and sentiments, a negative energy burst pool kept out of
the baseline; and `tapewatch up` keeps the demo on with it."""

from __future__ import annotations

import re
from pathlib import Path

from tapewatch.demo.generated import BURST_TEMPLATES, COMPANIES, TEMPLATES, generated_pools
from tapewatch.demo.scenario import Scenario, Stream, has_labelled_data
from tapewatch.settings import Settings
from tapewatch.supervisor import UpOptions, plan_children


def test_pools_are_deterministic_varied_and_keep_the_burst_out_of_the_baseline() -> None:
    pools = generated_pools(seed=3)
    assert pools == generated_pools(seed=3)
    assert len(pools.baseline) > 1500 and len(pools.burst) > 80
    assert not set(pools.burst) & set(pools.baseline)
    assert all("{" not in t and "}" not in t for t in pools.baseline + pools.burst)
    names = {name for name, _ in COMPANIES}
    assert sum(any(n in t for n in names) for t in pools.baseline) > len(pools.baseline) / 2
    energy = re.compile(r"\b(oil|crude|brent|opec|gas|energy)\b", re.I)
    assert all(energy.search(t) for t in pools.burst)


def test_the_mix_is_mostly_neutral_with_every_sentiment_and_many_topics() -> None:
    topics = {topic for topic, _ in TEMPLATES}
    assert len(topics) >= 15 and "Energy | Oil" in topics
    sentiments = {s for _, s in TEMPLATES}
    assert sentiments == {"negative", "neutral", "positive"}
    pools = generated_pools()
    negative = re.compile(r"\b(miss|cut|slide|fall|drop|warn|probe|downgrad)\w*", re.I)
    share = sum(bool(negative.search(t)) for t in pools.baseline) / len(pools.baseline)
    assert 0.05 < share < 0.3  # a wire is mostly not bad news
    assert len(BURST_TEMPLATES) >= 8


def test_a_stream_of_generated_headlines_bursts_on_schedule() -> None:
    scenario = Scenario(rate_per_s=10, burst_after_s=10, burst_seconds=20, burst_share=0.5)
    live = Stream(generated_pools(), scenario).live()
    items = [next(live) for _ in range(400)]
    burst = [i for i in items if i.burst]
    assert burst and all(10 <= i.offset_s < 30 for i in burst)


def test_up_runs_the_demo_on_the_generated_stream_without_labelled_data(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "nothing-here", state_dir=tmp_path / "state")
    assert not has_labelled_data(settings.data_dir)
    plan = plan_children(settings, UpOptions(), "127.0.0.1:1", "postgresql://x@127.0.0.1/x")
    names = [s.name for s in plan.specs]
    assert "demo" in names and "receiver" in names and "web" in names
    assert any("generated headlines" in note for note in plan.notes)
