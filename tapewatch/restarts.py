"""When the supervisor restarts a worker that exited, and why it waits when it does.

A worker that crashes now and then (an OOM kill, a SIGKILL, a lost broker connection) is
restarted at once: every second it is down, the monitor is blind. Only a tight crash loop (more
exits in a short window than a healthy worker ever has, e.g. a bad setting that kills it at
start) is backed off, exponentially, so it does not burn the machine's CPU on imports; the
reason is part of the decision so the terminal can say why a worker is waiting.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from pydantic import BaseModel, Field


class SupervisorConfig(BaseModel):
    """How `tapewatch up` restarts and probes its workers (``TAPEWATCH_SUPERVISOR__*``)."""

    free_restarts: int = Field(
        default=5,
        ge=0,
        description="Exits within `crash_window_s` that are restarted at once; more is a crash "
        "loop and is backed off.",
    )
    crash_window_s: float = Field(
        default=60.0, gt=0, description="Window in which exits are counted for `free_restarts`."
    )
    backoff_initial_s: float = Field(
        default=2.0, ge=0, description="First wait of a crash loop; doubles with each exit."
    )
    backoff_max_s: float = Field(default=30.0, ge=0, description="Longest wait of a crash loop.")
    liveness_interval_s: float = Field(
        default=5.0, gt=0, description="How often the supervisor asks each worker's /healthz."
    )
    liveness_failures: int = Field(
        default=3,
        ge=1,
        description="Consecutive failed /healthz answers after which a worker is restarted.",
    )
    liveness_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="Time after a start before /healthz counts (imports, model load).",
    )


@dataclass(frozen=True)
class RestartDecision:
    delay_s: float  # 0: restart now
    reason: str  # one line for the terminal: what happened and why it waits (or does not)


class CrashHistory:
    """The recent exits of one worker and the back-off they call for."""

    def __init__(self, config: SupervisorConfig) -> None:
        self.config = config
        self._exits: deque[float] = deque()

    def record_exit(self, now: float, uptime_s: float, cause: str) -> RestartDecision:
        """Count an exit at ``now`` (monotonic seconds) and decide when to restart."""
        window = self.config.crash_window_s
        self._exits.append(now)
        while self._exits and self._exits[0] <= now - window:
            self._exits.popleft()
        recent = len(self._exits)
        what = f"{cause} after {uptime_s:.1f} s"
        if recent <= self.config.free_restarts:
            return RestartDecision(
                0.0,
                f"{what}; restarting at once ({recent} of {self.config.free_restarts} quick "
                f"restarts in {window:.0f} s)",
            )
        loops = recent - self.config.free_restarts  # 1 for the first exit past the allowance
        delay = min(self.config.backoff_max_s, self.config.backoff_initial_s * 2 ** (loops - 1))
        return RestartDecision(
            delay,
            f"{what}; {recent} exits in {window:.0f} s is a crash loop, "
            f"waiting {delay:.0f} s before restarting",
        )
