"""Each rule's precision against analyst verdicts: of the alerts a backtest fires that an
analyst judged, the share judged useful.

A backtest alert is matched to a stored alert of the same fingerprint whose life (started to
ended, or still open) overlaps its own; the stored alert's newest verdict is its verdict.
Backtest alerts that match no judged alert count as fired but unjudged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.backtest import BacktestAlert


@dataclass(slots=True)
class RulePrecision:
    rule: str
    fired: int = 0
    judged: int = 0
    useful: int = 0
    false_alarm: int = 0

    @property
    def precision(self) -> float | None:
        return self.useful / self.judged if self.judged else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "fired": self.fired,
            "judged": self.judged,
            "useful": self.useful,
            "false_alarm": self.false_alarm,
            "precision": self.precision,
        }


def rule_precision(
    fired: Sequence[BacktestAlert], verdicts: Iterable[Any], until: datetime
) -> list[RulePrecision]:
    """``verdicts``: rows with fingerprint, started_at, ended_at and verdict (stored alerts)."""
    by_fp: dict[str, list[Any]] = {}
    for v in verdicts:
        by_fp.setdefault(v.fingerprint, []).append(v)
    out: dict[str, RulePrecision] = {}
    for alert in fired:
        rp = out.setdefault(alert.rule, RulePrecision(alert.rule))
        rp.fired += 1
        end = alert.resolved_at or until
        match = next(
            (
                v
                for v in by_fp.get(alert.fingerprint, [])
                if v.started_at <= end and (v.ended_at or until) >= alert.fired_at
            ),
            None,
        )
        if match is None:
            continue
        rp.judged += 1
        rp.useful += match.verdict == "useful"
        rp.false_alarm += match.verdict == "false_alarm"
    return sorted(out.values(), key=lambda r: r.rule)
