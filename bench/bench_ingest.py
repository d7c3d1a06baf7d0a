"""Ingest throughput: headlines/s from a large replay file into a real Kafka broker.

Starts a throwaway Apache Kafka broker and PostgreSQL cluster (``tapewatch.local``), writes a
replay file of synthetic headlines (with syndicated copies and exact repeats mixed in), then
measures, in the same run:

* ``ingest replay``   the real path: normalise, de-duplicate against the PostgreSQL seen-set,
                      SimHash clustering, idempotent acks=all gzip producer, batches of 1000;
* ``producer only``   the same producer, batched, no normalisation or de-duplication (the ceiling
                      the Kafka client sets);
* ``naive baseline``  normalise each row, then send-and-wait for the broker per message.

Usage: ``.venv/bin/python bench/bench_ingest.py --rows 100000 --baseline-rows 5000``
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer
from rich.console import Console
from rich.table import Table

from ingest.config import IngestConfig
from ingest.dedupe import SeenStore, SimIndex
from ingest.metrics import IngestMetrics
from ingest.pipeline import Pipeline
from ingest.producer import HeadlinePublisher
from ingest.sources.replay import ReplaySource, read_rows, row_to_item
from storage.db import make_engine
from storage.migrate import upgrade
from tapewatch.local import LocalKafka, LocalPostgres, scratch_dir
from tapewatch.settings import Settings

COMPANIES = (
    "Apple Microsoft Tesla Nvidia Exxon Chevron Boeing Pfizer Walmart Target Ford Intel".split()
)
VERBS = "beats misses raises cuts slumps jumps warns expands delays recalls acquires sues".split()
OBJECTS = (
    "quarterly estimates|full-year guidance|dividend|workforce|outlook|buyback plan|"
    "chip orders|price targets|output forecast|debt rating|merger talks|profit margin"
).split("|")
TAILS = (
    "as demand slows|after regulator probe|amid trade tensions|on strong services sales|"
    "ahead of earnings|as rates stay high|despite supply issues|after CEO exit"
).split("|")
OUTLETS = ["Reuters", "CNBC", "MarketWatch", "Example Wire"]


def write_replay(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    written: list[dict[str, object]] = []
    with path.open("w") as out:
        for i in range(rows):
            roll = rng.random()
            if written and roll < 0.05:  # an exact repeat (same link) of a recent row
                row = dict(rng.choice(written[-500:]))
            elif written and roll < 0.10:  # a syndicated copy: other outlet, decorated title
                original = rng.choice(written[-500:])
                row = {
                    "title": f"UPDATE 1-{original['title']} - {rng.choice(OUTLETS)}",
                    "url": f"https://copy.example.net/{i}",
                    "published_at": original["published_at"],
                }
            else:
                company = rng.choice(COMPANIES)
                title = (
                    f"{company} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}, "
                    f"${company[:4].upper()} {rng.randint(1, 99)}% (story {i})"
                )
                row = {
                    "title": title,
                    "url": f"https://news.example.com/{i}?utm_source=rss",
                    "published_at": (start + timedelta(seconds=30 * i)).isoformat(),
                }
            written.append(row)
            out.write(json.dumps(row) + "\n")


def bench_replay(path: Path, bootstrap: str, database_url: str, topic: str) -> tuple[int, float]:
    config = IngestConfig(feeds=[], replay_path=None)
    engine = make_engine(database_url)
    metrics = IngestMetrics()
    store = SeenStore(engine, SimIndex(config.near_duplicate_max_distance, timedelta(hours=72)))
    publisher = HeadlinePublisher(bootstrap, topic, config)
    pipeline = Pipeline(config, store, publisher, metrics)
    replay = ReplaySource(
        path, name="bench", pipeline=pipeline, metrics=metrics, stop=threading.Event()
    )
    started = time.perf_counter()
    outcome = replay.run()
    publisher.close()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return outcome.published, elapsed


def bench_producer_only(path: Path, bootstrap: str, topic: str) -> tuple[int, float]:
    payloads = [json.dumps(row).encode() for row in read_rows(path, _Bad())]
    # The settings HeadlinePublisher uses.
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        compression_type="gzip",
        linger_ms=20,
        batch_size=256 * 1024,
    )
    started = time.perf_counter()
    for i, value in enumerate(payloads):
        producer.send(topic, key=str(i).encode(), value=value)
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    return len(payloads), elapsed


def bench_naive(path: Path, bootstrap: str, topic: str, limit: int) -> tuple[int, float]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    config = IngestConfig(feeds=[], replay_path=None)
    # The pipeline's normaliser without the seen-set: the naive worker just sends everything.
    normaliser = Pipeline(config, None, None, IngestMetrics())  # type: ignore[arg-type]
    now = datetime.now(UTC)
    sent = 0
    started = time.perf_counter()
    for row in read_rows(path, _Bad()):
        if sent >= limit:
            break
        headline, _ = normaliser.normalize("naive", row_to_item(row), now)
        if headline is None:
            continue
        producer.send(topic, key=headline.id.encode(), value=headline.to_json()).get(timeout=30)
        sent += 1
    elapsed = time.perf_counter() - started
    producer.close()
    return sent, elapsed


class _Bad:
    count = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the replay file")
    parser.add_argument(
        "--baseline-rows", type=int, default=5_000, help="rows sent by the (slow) naive baseline"
    )
    args = parser.parse_args()
    console = Console(stderr=True)
    work = scratch_dir("tapewatch-bench-ingest-")
    settings = Settings()
    kafka = LocalKafka(
        data_dir=work / "kafka",
        cache_dir=settings.cache_dir,
        version=settings.kafka_version,
        default_partitions=settings.topic_partitions,
    )
    postgres = LocalPostgres(data_dir=work / "pg", durable=False)
    try:
        with console.status("starting Kafka and PostgreSQL…"):
            bootstrap = kafka.start()
            postgres.start()
            database_url = postgres.url()
            upgrade(database_url)
        path = work / "replay.jsonl"
        with console.status(f"writing {args.rows:,} rows…"):
            write_replay(path, args.rows)
        results = []
        with console.status("ingest replay…"):
            results.append(
                (
                    "ingest replay (dedupe + seen-set + batched idempotent producer)",
                    *bench_replay(path, bootstrap, database_url, "bench.replay"),
                )
            )
        with console.status("producer only…"):
            results.append(
                (
                    "producer only (batched, no normalise/dedupe)",
                    *bench_producer_only(path, bootstrap, "bench.producer"),
                )
            )
        with console.status("naive baseline…"):
            results.append(
                (
                    "naive baseline (normalise, send-and-wait per message)",
                    *bench_naive(path, bootstrap, "bench.naive", args.baseline_rows),
                )
            )
    finally:
        kafka.stop()
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
    table = Table(title=f"ingest throughput, replay file of {args.rows:,} rows")
    table.add_column("path")
    table.add_column("headlines", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("headlines/s", justify="right")
    for name, count, seconds in results:
        table.add_row(name, f"{count:,}", f"{seconds:.1f}", f"{count / seconds:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
