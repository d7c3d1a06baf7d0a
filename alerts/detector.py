"""Spike detection, pure statistics: given counts per window, is a topic's negative share spiking?

No database and no clock here, so every decision can be unit-tested and replayed. The method
(and why it keeps false alarms down) is explained in ``docs/alerts.md``:

* the baseline's reference rate is the *upper* Wilson bound of its negative share, blended with
  a weak prior, so thin baselines make alerting harder, not easier;
* each window must pass a one-sided exact binomial test against that reference, show a minimum
  lift in the observed share, and clear minimum-count gates;
* the short window and the longer confirmation window must both breach.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# z for a two-sided 95% interval: the Wilson bounds reported as evidence and the baseline's
# conservative reference rate.
Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Counts:
    """Headlines (each counted once) and how many of them are negative, in one window."""

    total: int
    negative: int

    @property
    def rate(self) -> float:
        return self.negative / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class TopicWindows:
    """The three windows of one topic at one evaluation time."""

    topic: str
    short: Counts
    long: Counts
    baseline: Counts


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The knobs of one topic's rule, after per-topic overrides are applied."""

    min_count_short: int = 20
    min_negative_short: int = 8
    min_count_long: int = 40
    max_p_value: float = 0.001
    min_lift: float = 0.15
    prior_negative_rate: float = 0.3
    prior_weight: float = 20.0


@dataclass(frozen=True, slots=True)
class WindowTest:
    """The outcome of testing one window against the baseline reference rate."""

    total: int
    negative: int
    rate: float
    wilson_low: float
    wilson_high: float
    p_value: float
    z: float
    breached: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Detection:
    """The verdict for one topic: ``breaching`` starts or keeps an alert pending/firing;
    ``holding`` (the short window alone) keeps an already firing alert from resolving."""

    topic: str
    baseline: Counts
    reference_rate: float
    short: WindowTest
    long: WindowTest

    @property
    def breaching(self) -> bool:
        return self.short.breached and self.long.breached

    @property
    def holding(self) -> bool:
        return self.short.breached

    def evidence(self) -> dict[str, Any]:
        return {
            "baseline": {
                "total": self.baseline.total,
                "negative": self.baseline.negative,
                "rate": self.baseline.rate,
                "reference_rate": self.reference_rate,
            },
            "short": asdict(self.short),
            "long": asdict(self.long),
        }


def wilson_interval(successes: float, trials: float, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (0, 1) when there are no trials.

    Unlike the normal approximation it stays inside [0, 1] and is honest at small counts,
    which is exactly where naive rates flap.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    denom = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exact (through the regularized incomplete beta)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    # P(X >= k) = I_p(k, n - k + 1)
    return regularized_beta(p, k, n - k + 1)


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) by its continued fraction (modified Lentz), using the symmetry for convergence."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The fraction converges fast only for x < (a + 1) / (a + b + 2); otherwise use symmetry.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(1.0 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 10_000):
        m2 = 2 * m
        # Even step.
        num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        result *= d * c
        # Odd step.
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        result *= delta
        if abs(delta - 1.0) < eps:
            break
    return result


def reference_rate(baseline: Counts, thresholds: Thresholds) -> float:
    """The rate a window is tested against: the baseline's upper Wilson bound, prior blended in.

    The prior keeps an empty baseline from meaning "no headline is ever negative"; the upper
    bound makes a thin baseline a high bar rather than a noisy one.
    """
    negative = baseline.negative + thresholds.prior_negative_rate * thresholds.prior_weight
    total = baseline.total + thresholds.prior_weight
    return wilson_interval(negative, total)[1]


def check_window(
    counts: Counts, p0: float, *, min_count: int, min_negative: int, thresholds: Thresholds
) -> WindowTest:
    """One-sided test that a window's negative share exceeds ``p0``, behind the count gates."""
    low, high = wilson_interval(counts.negative, counts.total)
    p_value = binomial_upper_tail(counts.negative, counts.total, p0)
    sd = math.sqrt(counts.total * p0 * (1 - p0))
    z = (counts.negative - counts.total * p0) / sd if sd > 0 else 0.0
    if counts.total < min_count:
        reason = f"only {counts.total} headlines (< {min_count})"
    elif counts.negative < min_negative:
        reason = f"only {counts.negative} negative (< {min_negative})"
    elif counts.rate - p0 < thresholds.min_lift:
        reason = f"rate {counts.rate:.3f} is less than {thresholds.min_lift:.2f} above {p0:.3f}"
    elif p_value > thresholds.max_p_value:
        reason = f"p={p_value:.2g} > {thresholds.max_p_value:g}"
    else:
        reason = f"rate {counts.rate:.3f} vs {p0:.3f}, p={p_value:.2g}"
        return WindowTest(
            counts.total, counts.negative, counts.rate, low, high, p_value, z, True, reason
        )
    return WindowTest(
        counts.total, counts.negative, counts.rate, low, high, p_value, z, False, reason
    )


def detect(windows: TopicWindows, thresholds: Thresholds) -> Detection:
    """Test a topic's short and long windows against its baseline."""
    p0 = reference_rate(windows.baseline, thresholds)
    short = check_window(
        windows.short,
        p0,
        min_count=thresholds.min_count_short,
        min_negative=thresholds.min_negative_short,
        thresholds=thresholds,
    )
    long = check_window(
        windows.long,
        p0,
        min_count=thresholds.min_count_long,
        min_negative=thresholds.min_negative_short,
        thresholds=thresholds,
    )
    return Detection(windows.topic, windows.baseline, p0, short, long)
