"""The pure parts of alerting, without a database: the statistics, the per-topic thresholds
and the alert lifecycle."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.config import AlertsConfig, TopicOverride
from alerts.detector import (
    Counts,
    Thresholds,
    TopicWindows,
    binomial_upper_tail,
    detect,
    reference_rate,
    wilson_interval,
)
from alerts.rules import fingerprint, thresholds_for
from alerts.state import Alert, Event, Policy, State, step

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def exact_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(0, 10, 0.3), (3, 10, 0.3), (10, 10, 0.3), (45, 60, 0.2), (7, 200, 0.01), (150, 300, 0.5)],
)
def test_binomial_tail_matches_the_exact_sum(k: int, n: int, p: float) -> None:
    assert binomial_upper_tail(k, n, p) == pytest.approx(exact_tail(k, n, p), rel=1e-9, abs=1e-300)


@given(n=st.integers(1, 400), p=st.floats(0.01, 0.99))
def test_binomial_tail_falls_as_the_count_rises(n: int, p: float) -> None:
    tails = [binomial_upper_tail(k, n, p) for k in range(n + 1)]
    assert tails[0] == 1.0
    assert all(0.0 <= t <= 1.0 for t in tails)
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(tails))


def test_wilson_interval_known_values() -> None:
    # 8 successes of 10 at 95%: the textbook interval (0.490, 0.943).
    low, high = wilson_interval(8, 10)
    assert (low, high) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 50)
    assert low == pytest.approx(0.0, abs=1e-12) and 0.0 < high < 0.08


def test_thin_baselines_raise_the_bar_not_lower_it() -> None:
    t = Thresholds()
    thin = reference_rate(Counts(total=5, negative=1), t)
    thick = reference_rate(Counts(total=5000, negative=1000), t)
    assert thick == pytest.approx(0.2, abs=0.02)
    assert thin > thick + 0.05
    # No baseline at all: the prior, not zero.
    assert reference_rate(Counts(0, 0), t) > t.prior_negative_rate


def windows(short: tuple[int, int], long: tuple[int, int], base: tuple[int, int]) -> TopicWindows:
    return TopicWindows("Earnings", Counts(*short), Counts(*long), Counts(*base))


def test_a_real_spike_breaches_both_windows() -> None:
    d = detect(windows((60, 45), (150, 70), (10_000, 2_000)), Thresholds())
    assert d.breaching and d.holding
    assert d.short.p_value < 1e-10 and d.short.rate == 0.75
    assert d.evidence()["baseline"]["rate"] == 0.2


def test_a_low_volume_topic_cannot_alert_however_negative() -> None:
    d = detect(windows((5, 5), (9, 8), (300, 60)), Thresholds())
    assert not d.breaching
    assert "only 5 headlines" in d.short.reason


def test_a_short_burst_without_confirmation_does_not_breach() -> None:
    # The short window spikes, but the hour around it looks normal: not (yet) an alert.
    d = detect(windows((40, 24), (400, 100), (10_000, 2_000)), Thresholds())
    assert d.short.breached and not d.long.breached and not d.breaching
    assert d.holding  # but it would keep an already firing alert alive


def test_a_significant_but_tiny_rise_on_huge_volume_does_not_breach() -> None:
    d = detect(windows((20_000, 4_600), (60_000, 13_800), (10**6, 200_000)), Thresholds())
    assert d.short.p_value < 1e-6  # statistically significant...
    assert not d.breaching  # ...but 23% vs 20% is not a spike worth waking anyone for
    assert "less than" in d.short.reason


def test_per_topic_overrides_apply_to_that_topic_only() -> None:
    config = AlertsConfig(
        topic_overrides={"Crypto": TopicOverride(min_count_short=200, min_lift=0.3)}
    )
    crypto, other = thresholds_for(config, "Crypto"), thresholds_for(config, "Earnings")
    assert (crypto.min_count_short, crypto.min_lift) == (200, 0.3)
    assert crypto.max_p_value == config.max_p_value
    assert (other.min_count_short, other.min_lift) == (config.min_count_short, config.min_lift)
    spike = windows((60, 45), (150, 70), (10_000, 2_000))
    assert detect(spike, other).breaching and not detect(spike, crypto).breaching


def test_settings_refuse_receivers_without_a_secret() -> None:
    receiver = {"name": "ops", "url": "http://127.0.0.1:9/hook"}
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        AlertsConfig(receivers=[receiver])
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        AlertsConfig(receivers=[receiver], webhook_secret="short")
    config = AlertsConfig(receivers=[receiver], webhook_secret="x" * 32)
    assert "x" * 32 not in repr(config)  # the secret never shows in logs or reprs


# --- lifecycle ---------------------------------------------------------------------------------

POLICY = Policy(
    pending=timedelta(minutes=2), repeat_interval=timedelta(hours=1), cooldown=timedelta(minutes=30)
)


def run(
    verdicts: list[tuple[bool, bool]], policy: Policy = POLICY, start: datetime = NOW
) -> list[tuple[int, State | None, Event | None]]:
    """Feed (breaching, holding) once a minute; returns (minute, state, event) per step."""
    alert: Alert | None = None
    last_end: datetime | None = None
    out = []
    for minute, (breaching, holding) in enumerate(verdicts):
        result = step(
            alert if alert is not None and alert.active else None,
            fingerprint=fingerprint("Earnings"),
            topic="Earnings",
            rule="negative_spike",
            breaching=breaching,
            holding=holding,
            now=start + timedelta(minutes=minute),
            evidence={"minute": minute},
            policy=policy,
            last_fired_end=last_end,
        )
        alert = result.alert or alert
        ended = result.alert
        if ended is not None and ended.state is State.RESOLVED and ended.fired_at is not None:
            last_end = ended.ended_at
        out.append((minute, result.alert.state if result.alert else None, result.event))
    return out


def events(trace: list[tuple[int, State | None, Event | None]]) -> list[tuple[int, Event]]:
    return [(m, e) for m, _, e in trace if e is not None]


def test_pending_then_firing_then_resolved_with_one_notification_each() -> None:
    trace = run([(True, True)] * 5 + [(False, False)] * 3)
    assert [s for _, s, _ in trace[:4]] == [
        State.PENDING,
        State.PENDING,
        State.FIRING,
        State.FIRING,
    ]
    assert events(trace) == [(2, Event.FIRING), (5, Event.RESOLVED)]


def test_a_breach_shorter_than_the_pending_time_never_fires_and_starts_no_cooldown() -> None:
    trace = run([(True, True), (False, False), (True, True), (True, True), (True, True)])
    assert trace[1][1] is State.RESOLVED  # the pending alert ended quietly
    assert events(trace) == [(4, Event.FIRING)]


def test_firing_holds_on_the_short_window_and_repeats_after_the_repeat_interval() -> None:
    trace = run([(True, True)] * 3 + [(False, True)] * 120 + [(False, False)])
    assert events(trace) == [(2, Event.FIRING), (62, Event.REPEAT), (122, Event.REPEAT),
                             (123, Event.RESOLVED)]  # fmt: skip


def test_cooldown_keeps_a_spike_tail_from_re_alerting() -> None:
    tail = [(True, True)] * 3 + [(False, False)] + [(True, True)] * 40
    assert events(run(tail)) == [(2, Event.FIRING), (3, Event.RESOLVED), (35, Event.FIRING)]
    no_cooldown = Policy(pending=timedelta(minutes=2), cooldown=timedelta(0))
    assert events(run(tail, no_cooldown))[:3] == [
        (2, Event.FIRING),
        (3, Event.RESOLVED),
        (6, Event.FIRING),
    ]


def test_zero_pending_fires_on_the_first_breach() -> None:
    trace = run([(True, True), (False, False)], Policy(pending=timedelta(0)))
    assert events(trace) == [(0, Event.FIRING), (1, Event.RESOLVED)]
