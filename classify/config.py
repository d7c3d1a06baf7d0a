"""Classify-stage settings: the ``classify`` section of :class:`tapewatch.settings.Settings`.

Environment: ``TAPEWATCH_CLASSIFY__<FIELD>``, e.g. ``TAPEWATCH_CLASSIFY__MAX_BATCH=128``.
"""

from __future__ import annotations

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
