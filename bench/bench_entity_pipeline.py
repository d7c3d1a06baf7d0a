"""What watchlist entities cost the classify stage through Kafka and PostgreSQL.

The in-process form (bench_entity_stage.py) leaves the broker and the database out. This one
runs ``tapewatch worker classify`` as a subprocess against a throwaway broker and PostgreSQL,
drains the same backlog once without a watchlist and once with one (alternating, ``--rounds``
times each, a fresh topic per drain), and reports headlines/s from the first stored row to the
last, the entity rows stored, and the throughput lost. The stream is bench_entity_stage's: a
third of the headlines are SEntFiN titles naming an entity of a watchlist of every entity
SEntFiN labels, the rest twitter-set texts naming none.

    python bench/bench_entity_pipeline.py --headlines 6000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import time
import uuid
from pathlib import Path

import psycopg2
import yaml
from bench_classify_stage import BIN, RowWatcher, produce
from bench_entity_stage import stream
from kafka import KafkaProducer

from storage.migrate import upgrade
from tapewatch.local import LocalKafka, LocalPostgres, scratch_dir
from tapewatch.local.proc import child_setup, terminate
from tapewatch.settings import Settings
from tapewatch.topics import ensure_topics


def drain(
    env: dict[str, str], bootstrap: str, dsn: str, texts: list[str], start: int
) -> tuple[float, int]:
    """(headlines/s, entity rows) for one worker draining ``texts`` from a fresh topic."""
    suffix = uuid.uuid4().hex[:6]
    cfg = Settings(
        topic_raw=f"raw.{suffix}", topic_classified=f"cls.{suffix}", topic_dlq=f"dlq.{suffix}"
    )
    ensure_topics(bootstrap, cfg)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    produce(producer, cfg.topic_raw, texts, start, {})
    producer.flush()
    producer.close()
    watcher = RowWatcher(dsn)
    watcher.start()
    env = env | {
        "TAPEWATCH_TOPIC_RAW": cfg.topic_raw,
        "TAPEWATCH_TOPIC_CLASSIFIED": cfg.topic_classified,
        "TAPEWATCH_TOPIC_DLQ": cfg.topic_dlq,
        "TAPEWATCH_CLASSIFY__GROUP_ID": f"bench-{suffix}",
    }
    worker = subprocess.Popen(
        [BIN, "worker", "classify"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=child_setup(),
    )
    try:
        wanted = {f"{i:032x}" for i in range(start, start + len(texts))}
        while len(wanted & watcher.seen.keys()) < len(texts):
            if worker.poll() is not None:
                raise SystemExit("the worker exited; run it by hand with these settings to see why")
            time.sleep(0.1)
    finally:
        terminate(worker, sig=15, timeout=30)
        watcher.stop.set()
    times = sorted(t for h, t in watcher.seen.items() if h in wanted)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM headline_entities e JOIN headlines h ON h.id = e.headline_id "
            "WHERE h.id = ANY(%s)",
            (sorted(wanted),),
        )
        rows = int(cur.fetchone()[0])
    return (len(texts) - 1) / (times[-1] - times[0]), rows


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headlines", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--model-dir", type=Path, default=settings.model_dir)
    parser.add_argument("--entity-model", type=Path, default=settings.entities.model_dir)
    args = parser.parse_args()
    texts, watchlist = stream(args.data_dir, args.headlines, random.Random(5))
    work = scratch_dir("bench-entity-pipeline-")
    watchlist_path = work / "watchlist.yaml"
    watchlist_path.write_text(
        yaml.safe_dump({"entities": [{"id": e.id, "name": e.name} for e in watchlist.entities]})
    )
    kafka = LocalKafka(data_dir=work / "kafka", cache_dir=settings.cache_dir)
    pg = LocalPostgres(data_dir=work / "pg", durable=True)
    try:
        bootstrap = kafka.start()
        url = pg.start()
        upgrade(url)
        plain_env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWATCH_")} | {
            "TAPEWATCH_KAFKA_BOOTSTRAP": bootstrap,
            "TAPEWATCH_DATABASE_URL": url,
            "TAPEWATCH_MODEL_DIR": str(args.model_dir),
            "TAPEWATCH_DEVICE": "cpu",
            "TAPEWATCH_STATE_DIR": str(work / "state"),
            "TAPEWATCH_CLASSIFY__METRICS_PORT": "0",
            "TAPEWATCH_HEALTH__CLASSIFY_PORT": "0",
            "TAPEWATCH_LOG_LEVEL": "WARNING",
        }
        tagged_env = plain_env | {
            "TAPEWATCH_ENTITIES__WATCHLIST_PATH": str(watchlist_path),
            "TAPEWATCH_ENTITIES__MODEL_DIR": str(args.entity_model),
        }
        plain, tagged, rows = [], [], 0
        start = 0
        # Alternating drains: this machine's speed drifts, so both see the same drift.
        for r in range(args.rounds):
            for name, env, out in (("plain", plain_env, plain), ("watchlist", tagged_env, tagged)):
                rate, n = drain(env, bootstrap, pg.dsn(), texts, start)
                start += len(texts)
                out.append(rate)
                rows = n if name == "watchlist" else rows
                print(f"round {r + 1} {name}: {rate:.0f} headlines/s, {n} entity rows", flush=True)
        best_plain, best_tagged = max(plain), max(tagged)
        print(
            json.dumps(
                {
                    "headlines": len(texts),
                    "watchlist_entities": len(watchlist),
                    "entity_rows": rows,
                    "plain_headlines_per_s": [round(x, 1) for x in plain],
                    "with_entities_headlines_per_s": [round(x, 1) for x in tagged],
                    "throughput_lost": round(1 - best_tagged / best_plain, 3),
                }
            )
        )
    finally:
        kafka.stop()
        pg.stop()


if __name__ == "__main__":
    main()
