"""Classify-stage settings: the ``classify`` section of :class:`tapewatch.settings.Settings`.

Environment: ``TAPEWATCH_CLASSIFY__<FIELD>``, e.g. ``TAPEWATCH_CLASSIFY__MAX_BATCH=128``.
"""

from __future__ import annotations

import socket

from pydantic import BaseModel, Field


class ClassifyConfig(BaseModel):
    metrics_port: int = Field(
        default=9102, description="Prometheus metrics port of the classify worker (0: none)."
    )
    group_id: str = Field(
        default="tapewatch-classify",
        description="Kafka consumer group (the Faust app id); workers sharing it split partitions.",
    )
    max_batch: int = Field(default=64, ge=1, description="Most headlines per micro-batch.")
    max_wait_ms: int = Field(
        default=200, ge=1, description="Longest wait to fill a micro-batch before classifying it."
    )
    gpu_index: int | None = Field(
        default=None, description="CUDA device for this worker (one GPU per worker); unset: auto."
    )
    db_retry_initial_s: float = Field(
        default=0.5, gt=0, description="First wait after a failed database write; doubles."
    )
    db_retry_max_s: float = Field(default=15.0, gt=0, description="Longest wait between retries.")
    shutdown_grace_s: float = Field(
        default=30.0,
        gt=0,
        description="After SIGTERM/SIGINT, exit anyway after this long (Faust can wait forever "
        "on a broker that is gone; unacknowledged messages are re-delivered).",
    )
    # --- group membership: how fast a restarted worker gets its partitions back -----------------
    static_membership: bool = Field(
        default=True,
        description="Join the group as a static member (Kafka group.instance.id): a restarted "
        "worker takes its partitions back at once instead of waiting out the dead one's session.",
    )
    instance_id: str | None = Field(
        default=None,
        description="Static member id; unset: `<host>-classify-<slot>`. Unique per live worker "
        "(two live workers with one id take the partitions from each other in turn), stable "
        "across its restarts.",
    )
    worker_slot: int | None = Field(
        default=None,
        ge=0,
        description="This worker's slot on its host, part of the default instance id; unset: "
        "the lowest slot no other worker on this host holds (a lock file under the state dir).",
    )
    standby: bool = Field(
        default=True,
        description="`tapewatch up` runs a warm standby beside the classify worker: a second "
        "process with the model loaded that takes over the slot the instant the worker dies "
        "(the model is in memory twice, see `standby_memory_mb`).",
    )
    standby_count: int = Field(
        default=1,
        ge=1,
        le=4,
        description="Warm standbys per classify worker when `standby` is on: more cover crashes "
        "in quick succession (a replacement takes a cold start to warm up), each costs the "
        "memory of another worker.",
    )
    standby_memory_mb: int = Field(
        default=1024,
        ge=0,
        description="Memory a standby needs (a second interpreter, torch and the model); "
        "`tapewatch up` starts no more standbys than the available memory holds.",
    )
    session_timeout_s: float = Field(
        default=20.0,
        ge=6.0,  # the broker's group.min.session.timeout.ms
        le=90.0,  # no more than Faust's broker_request_timeout
        description="A worker silent this long is evicted and its partitions go to the others; "
        "a restart within it keeps them without a rebalance.",
    )
    heartbeat_interval_s: float = Field(
        default=3.0,
        gt=0,
        description="Heartbeats to the group coordinator (under a third of the session timeout).",
    )

    def standby_slot(self) -> int:
        """The slot a standby waits for: the pinned one, else slot 0 (one worker per host)."""
        return 0 if self.worker_slot is None else self.worker_slot

    def group_instance_id(self, slot: int) -> str | None:
        """The static member id of worker ``slot``, or None for dynamic membership."""
        if not self.static_membership:
            return None
        return self.instance_id or f"{socket.gethostname()}-classify-{slot}"
