"""Classify-stage throughput and latency against the engine alone, in one run.

Starts a throwaway Kafka broker and PostgreSQL cluster, runs `tapewatch worker classify` as a
subprocess on the given model, and measures:

1. saturation throughput: a backlog of N headlines drained (rows/s, first to last row);
2. latency at a fixed offered rate: produce time to the row being visible in PostgreSQL
   (polled every 20 ms), p50 / p99;
3. the engine alone on the same texts and batch size, in this process, with the worker idle,
   and the ratio stage / engine (target >= 0.8: streaming overhead stays small).

    python bench/bench_classify_stage.py --backlog 4000 --rate 100 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
from kafka import KafkaProducer

from classify.predictor import Predictor, configure_cpu_threads
from classify.training.data import load_split
from storage.migrate import upgrade
from tapewatch.local import LocalKafka, LocalPostgres, scratch_dir
from tapewatch.local.proc import child_setup
from tapewatch.settings import Settings
from tapewatch.topics import ensure_topics

BIN = Path(sys.executable).parent / "tapewatch"


class RowWatcher(threading.Thread):
    """Polls PostgreSQL for new rows and records when each headline id became visible."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        last = 0
        with self.conn.cursor() as cur:
            while not self.stop.is_set():
                cur.execute("SELECT id, headline_id FROM classifications WHERE id > %s", (last,))
                now = time.monotonic()
                for row_id, hid in cur.fetchall():
                    self.seen.setdefault(hid, now)
                    last = max(last, row_id)
                time.sleep(0.02)


def produce(
    producer: KafkaProducer, topic: str, texts: list[str], start: int, sent: dict[str, float]
) -> None:
    for i, text in enumerate(texts, start=start):
        hid = f"{i:032x}"
        now = datetime.now(UTC).isoformat()
        doc = {"id": hid, "source": "bench", "title": text, "published_at": now, "ingested_at": now}
        sent[hid] = time.monotonic()
        producer.send(topic, key=hid.encode(), value=json.dumps(doc).encode())


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=settings.model_dir)
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--backlog", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=100.0, help="offered headlines/s")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the fixed-rate run")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=int, default=200)
    parser.add_argument("--worker-log", type=Path, help="write the worker's INFO log here")
    args = parser.parse_args()

    topic_ex, sentiment_ex = load_split(args.data_dir, "valid")
    pool = [ex.text for ex in topic_ex + sentiment_ex]
    work = scratch_dir("bench-stage-")
    kafka = LocalKafka(data_dir=work / "kafka", cache_dir=settings.cache_dir)
    pg = LocalPostgres(data_dir=work / "pg", durable=True)
    worker = None
    try:
        bootstrap = kafka.start()
        url = pg.start()
        upgrade(url)
        suffix = uuid.uuid4().hex[:6]
        cfg = Settings(
            topic_raw=f"raw.{suffix}", topic_classified=f"cls.{suffix}", topic_dlq=f"dlq.{suffix}"
        )
        ensure_topics(bootstrap, cfg)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWATCH_")} | {
            "TAPEWATCH_KAFKA_BOOTSTRAP": bootstrap,
            "TAPEWATCH_DATABASE_URL": url,
            "TAPEWATCH_TOPIC_RAW": cfg.topic_raw,
            "TAPEWATCH_TOPIC_CLASSIFIED": cfg.topic_classified,
            "TAPEWATCH_TOPIC_DLQ": cfg.topic_dlq,
            "TAPEWATCH_MODEL_DIR": str(args.model_dir),
            "TAPEWATCH_DEVICE": "cpu",
            "TAPEWATCH_CLASSIFY__METRICS_PORT": "0",
            "TAPEWATCH_CLASSIFY__MAX_BATCH": str(args.max_batch),
            "TAPEWATCH_CLASSIFY__MAX_WAIT_MS": str(args.max_wait_ms),
            "TAPEWATCH_LOG_LEVEL": "INFO" if args.worker_log else "WARNING",
        }
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        watcher = RowWatcher(pg.dsn())
        watcher.start()
        sent: dict[str, float] = {}

        # 1. Saturation: a backlog produced first, then the worker drains it.
        backlog = [pool[i % len(pool)] for i in range(args.backlog)]
        produce(producer, cfg.topic_raw, backlog, 0, sent)
        producer.flush()
        log = args.worker_log.open("wb") if args.worker_log else None
        # The death signal: the worker must not outlive this script if it is interrupted.
        worker = subprocess.Popen(
            [BIN, "worker", "classify"], env=env, stdout=log, stderr=log, preexec_fn=child_setup()
        )
        while len(watcher.seen) < args.backlog:
            time.sleep(0.1)
            if worker.poll() is not None:
                raise SystemExit("the worker exited; see its output above")
        times = sorted(watcher.seen.values())
        drain = (args.backlog - 1) / (times[-1] - times[0])
        print(f"saturation: {drain:.0f} headlines/s over {args.backlog}", flush=True)

        # 2. Fixed offered rate: latency from produce to visible row.
        n = int(args.rate * args.seconds)
        texts = [pool[(args.backlog + i) % len(pool)] for i in range(n)]
        fixed_sent: dict[str, float] = {}
        started = time.monotonic()
        for i, text in enumerate(texts):
            target = started + i / args.rate
            time.sleep(max(0.0, target - time.monotonic()))
            produce(producer, cfg.topic_raw, [text], args.backlog + i, fixed_sent)
            if i % 10 == 0:
                producer.flush()
        producer.flush()
        deadline = time.monotonic() + 120
        while sum(1 for h in fixed_sent if h in watcher.seen) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        latencies = sorted(
            (watcher.seen[h] - t) * 1000 for h, t in fixed_sent.items() if h in watcher.seen
        )
        p50 = statistics.median(latencies)
        p99 = latencies[int(0.99 * (len(latencies) - 1))]
        print(
            f"fixed rate {args.rate:.0f}/s: {len(latencies)}/{n} rows, "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms"
        )
        watcher.stop.set()

        # 3. The engine alone, worker idle (SIGSTOP keeps it from competing for the cores).
        worker.send_signal(signal.SIGSTOP)
        configure_cpu_threads()
        engine = Predictor.from_dir(args.model_dir, device="cpu", batch_size=args.max_batch)
        engine.predict_batch(backlog[: args.max_batch])
        t0 = time.perf_counter()
        for start in range(0, len(backlog), args.max_batch):
            engine.predict_batch(backlog[start : start + args.max_batch])
        engine_rate = len(backlog) / (time.perf_counter() - t0)
        worker.send_signal(signal.SIGCONT)
        print(f"engine alone, batches of {args.max_batch}: {engine_rate:.0f} headlines/s")
        print("\n| measure | value |\n|---|---:|")
        print(f"| stage saturation throughput | {drain:,.0f} headlines/s |")
        print(f"| engine alone, same batches | {engine_rate:,.0f} headlines/s |")
        print(f"| ratio stage / engine | {drain / engine_rate:.2f} |")
        print(f"| latency at {args.rate:.0f}/s offered, p50 | {p50:,.0f} ms |")
        print(f"| latency at {args.rate:.0f}/s offered, p99 | {p99:,.0f} ms |")
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGCONT)
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        kafka.stop()
        pg.stop()


if __name__ == "__main__":
    main()
