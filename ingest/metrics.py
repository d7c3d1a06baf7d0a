"""Prometheus metrics of the ingest worker, labelled per source.

Kept in a registry of their own (not the process-global one) so that several workers, or
tests, can live in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.fetched = Counter(
            "ingest_items_fetched",
            "Items read from a source (before de-duplication).",
            ["source"],
            registry=r,
        )
        self.new = Counter(
            "ingest_items_new",
            "Headlines published to Kafka for the first time.",
            ["source"],
            registry=r,
        )
        self.duplicate = Counter(
            "ingest_items_duplicate",
            "Items already published before (same headline id).",
            ["source"],
            registry=r,
        )
        self.clustered = Counter(
            "ingest_items_near_duplicate",
            "New headlines linked to an earlier story's cluster (syndicated copies).",
            ["source"],
            registry=r,
        )
        self.rejected = Counter(
            "ingest_items_rejected",
            "Items dropped as unusable (e.g. no title).",
            ["source", "reason"],
            registry=r,
        )
        self.date_replaced = Counter(
            "ingest_items_date_replaced",
            "Items whose published time was unusable (fetch time used instead).",
            ["source"],
            registry=r,
        )
        self.errors = Counter(
            "ingest_errors",
            "Failed polls, replays or pushes, by kind.",
            ["source", "kind"],
            registry=r,
        )
        self.not_modified = Counter(
            "ingest_not_modified",
            "Polls answered 304 Not Modified.",
            ["source"],
            registry=r,
        )
        self.last_success = Gauge(
            "ingest_last_success_timestamp_seconds",
            "Unix time of the last successful poll.",
            ["source"],
            registry=r,
        )
        self.fetch_seconds = Histogram(
            "ingest_fetch_seconds",
            "Time to fetch and parse one feed.",
            ["source"],
            registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
