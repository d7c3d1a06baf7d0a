"""Benchmark: time of one alert evaluation over 1 million and 10 million classified rows.

Starts a throwaway PostgreSQL cluster, loads classifications at a constant volume (so 10x the
rows is 10x the history, while the windows hold the same rows), and times one full evaluation
(window query, detector, state, evaluation log) at each size against a naive baseline that
aggregates the whole history. Then, at the largest size, varies the baseline window.
Prints a table; results are recorded in docs/benchmarks.md.

    python bench/bench_alerts.py [--sizes 1000000 10000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.config import AlertsConfig
from alerts.evaluator import evaluate
from alerts.windows import WINDOW_COUNTS, Bounds
from storage.db import make_engine
from storage.migrate import upgrade
from tapewatch.local import LocalPostgres, scratch_dir

END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TOPICS = 20
PER_DAY = 27_400  # ~19 headlines a minute across all topics: 10M rows is a year of history
STEP_SECONDS = 86_400 / PER_DAY

INDEXES = {
    "uq_classifications_headline_id_model_version": (
        "ALTER TABLE classifications ADD CONSTRAINT uq_classifications_headline_id_model_version "
        "UNIQUE (headline_id, model_version)"
    ),
    "ix_classifications_topic_published_at": (
        "CREATE INDEX ix_classifications_topic_published_at "
        "ON classifications (topic, published_at)"
    ),
    "ix_classifications_published_at": (
        "CREATE INDEX ix_classifications_published_at ON classifications (published_at)"
    ),
    "ix_classifications_classified_at": (
        "CREATE INDEX ix_classifications_classified_at ON classifications (classified_at)"
    ),
}

# Row i is published i steps before END: loading rows [lo, hi) extends history backwards.
LOAD = text(
    """
    INSERT INTO classifications (headline_id, model_version, topic, topic_confidence, sentiment,
        sentiment_confidence, negative_probability, probabilities, published_at, classified_at)
    SELECT md5(i::text), 'bench-v1', 'topic-' || (i % :topics), 0.9,
           CASE WHEN h < 0.25 THEN 'negative' WHEN h < 0.6 THEN 'neutral' ELSE 'positive' END,
           0.9, h, '{}'::jsonb,
           :end - make_interval(secs => i * :step),
           :end - make_interval(secs => i * :step) + interval '5 seconds'
    FROM (SELECT i, abs(hashint4(i)::float8) / 2147483648.0 AS h
          FROM generate_series(:lo, :hi - 1) AS i) s
    """
)


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    """Median wall time of ``fn`` in milliseconds (after one warm-up run)."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def load(engine: Engine, lo: int, hi: int) -> float:
    started = time.perf_counter()
    with engine.begin() as conn:
        for name in INDEXES:
            if name.startswith("uq_"):
                conn.execute(text(f"ALTER TABLE classifications DROP CONSTRAINT IF EXISTS {name}"))
            else:
                conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    chunk = 1_000_000
    for start in range(lo, hi, chunk):
        with engine.begin() as conn:
            conn.execute(
                LOAD,
                {
                    "lo": start,
                    "hi": min(hi, start + chunk),
                    "topics": TOPICS,
                    "end": END,
                    "step": STEP_SECONDS,
                },
            )
    with engine.begin() as conn:
        conn.execute(text("SET maintenance_work_mem = '512MB'"))
        for ddl in INDEXES.values():
            conn.execute(text(ddl))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE classifications"))
    return time.perf_counter() - started


def naive_full_history(engine: Engine, config: AlertsConfig) -> None:
    """The same counts with the baseline taken over all history: a full-table aggregate."""
    bounds = Bounds.at(END, config)
    params = bounds.params() | {"baseline_start": datetime(1970, 1, 1, tzinfo=UTC)}
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL work_mem = '64MB'"))
        conn.execute(WINDOW_COUNTS, params).all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    workdir = scratch_dir("tapewatch-bench-")
    cluster = LocalPostgres(data_dir=workdir, durable=False)
    cluster.start()
    results = []
    try:
        url = cluster.url()
        upgrade(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            # The evaluation never joins headlines; the load skips them, so the key must go.
            conn.execute(
                text(
                    "ALTER TABLE classifications DROP CONSTRAINT "
                    "fk_classifications_headline_id_headlines"
                )
            )
        config = AlertsConfig()
        loaded = 0
        slot = [END]

        def live() -> None:
            # A fresh slot each run (the evaluation log allows one per interval).
            slot[0] += timedelta(seconds=config.interval_seconds)
            evaluate(engine, config, now=slot[0])

        for size in args.sizes:
            seconds = load(engine, loaded, size)
            loaded = size
            days = size / PER_DAY
            print(
                f"loaded {size:,} rows ({days:.0f} days of history) in {seconds:.0f}s", flush=True
            )
            results.append(
                (
                    f"{size:,}",
                    f"{days:.0f} d",
                    "7 d",
                    timed(live, args.repeat),
                    timed(lambda: naive_full_history(engine, config), args.repeat),
                )
            )
        for baseline_days in (1, 28):
            wide = config.model_copy(update={"baseline_seconds": baseline_days * 86_400})

            def live_wide(cfg: AlertsConfig = wide) -> None:
                slot[0] += timedelta(seconds=cfg.interval_seconds)
                evaluate(engine, cfg, now=slot[0])

            results.append(
                (
                    f"{loaded:,}",
                    f"{loaded / PER_DAY:.0f} d",
                    f"{baseline_days} d",
                    timed(live_wide, args.repeat),
                    float("nan"),
                )
            )
        engine.dispose()
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print("| rows | history | baseline window | evaluation (ms) | naive full-history (ms) |")
    print("|---:|---:|---:|---:|---:|")
    for rows, history, window, live_ms, naive_ms in results:
        naive = "—" if naive_ms != naive_ms else f"{naive_ms:,.0f}"
        print(f"| {rows} | {history} | {window} | {live_ms:,.0f} | {naive} |")


if __name__ == "__main__":
    main()
