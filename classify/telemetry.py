"""Prometheus metrics of the classify stage (served on ``classify.metrics_port``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BATCH_SIZE = Histogram(
    "tapewatch_classify_batch_size",
    "Messages per micro-batch.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
INFERENCE_SECONDS = Histogram("tapewatch_classify_inference_seconds", "Model time per batch.")
WRITE_SECONDS = Histogram("tapewatch_classify_write_seconds", "PostgreSQL write time per batch.")
PUBLISH_SECONDS = Histogram("tapewatch_classify_publish_seconds", "Kafka publish time per batch.")
CLASSIFIED = Counter("tapewatch_classify_classified_total", "Headlines classified and stored.")
STORED = Counter("tapewatch_classify_rows_inserted_total", "Classification rows newly inserted.")
DEAD_LETTERED = Counter(
    "tapewatch_classify_dead_lettered_total", "Messages sent to the dead-letter topic.", ["stage"]
)
DB_RETRIES = Counter("tapewatch_classify_db_retries_total", "Database writes retried.")
CONSUMER_LAG = Gauge("tapewatch_classify_consumer_lag", "Messages behind the end of the topic.")
ASSIGNED_PARTITIONS = Gauge(
    "tapewatch_classify_assigned_partitions", "Partitions of the source topic held by this worker."
)
