"""The dead-letter topic as the Pipeline page shows it: how many, and the latest with reasons.

Read straight from Kafka (the classifier writes dead letters there, not to PostgreSQL): the
count is the sum over partitions of end minus beginning offsets, the latest are the last few
records of each partition. No consumer group: reading commits nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

LATEST = 10


@dataclass
class DeadLetters:
    count: int | None = None  # None: Kafka not reachable
    latest: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _record(value: bytes | None, timestamp_ms: int) -> dict[str, Any]:
    try:
        doc = json.loads(value or b"{}")
    except ValueError:
        doc = {"reason": "not JSON", "original": (value or b"")[:200].decode("utf-8", "replace")}
    original = str(doc.get("original", ""))
    return {
        "reason": doc.get("reason"),
        "stage": doc.get("stage"),
        "failed_at": doc.get("failed_at")
        or datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat(),
        "original": original[:300],
    }


def read_dead_letters(bootstrap: str, topic: str, latest: int = LATEST) -> DeadLetters:
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            request_timeout_ms=5000,
            bootstrap_timeout_ms=3000,  # an unreachable broker answers "not readable" fast
            consumer_timeout_ms=1000,
        )
    except KafkaError as exc:
        return DeadLetters(error=type(exc).__name__)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return DeadLetters(count=0)
        begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        count = sum(end[tp] - begin[tp] for tp in tps)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, max(begin[tp], end[tp] - latest))
        records = []
        wanted = sum(min(latest, end[tp] - begin[tp]) for tp in tps)
        while len(records) < wanted:
            batch = consumer.poll(timeout_ms=1000)
            if not batch:
                break
            for messages in batch.values():
                records += [_record(m.value, m.timestamp) for m in messages]
        records.sort(key=lambda r: str(r["failed_at"]), reverse=True)
        return DeadLetters(count=count, latest=records[:latest])
    except KafkaError as exc:
        return DeadLetters(error=type(exc).__name__)
    finally:
        consumer.close()
