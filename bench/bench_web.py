"""Benchmark: the web dashboard's pages and API over millions of classified headlines.

Starts a throwaway PostgreSQL cluster (or uses --database-url), loads ``--rows`` classified
headlines spread over ``--days`` ending now (COPY-free: ``INSERT … SELECT generate_series``,
with the indexes and the rollup trigger dropped during the load and rebuilt after, printing
progress), builds the rollups from the loaded rows, then serves the app on loopback and
times every endpoint: p50 / p95 over ``--repeat`` requests after a warm-up. Beside them, the
same charts computed from the plain views (grouping ``v_headlines``, what
``v_topic_sentiment_5m`` did before the rollups), timed ``--plain-repeat`` times.

    python bench/bench_web.py [--rows 10000000] [--days 30] [--repeat 30] [--keep-dir DIR]

``--keep-dir`` keeps the cluster in DIR after the run; a later run with the same DIR skips the
load and times what is there (the data then ends when it was loaded, not at "now").

Results are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.db import make_engine
from storage.migrate import upgrade
from tapewatch.local import LocalPostgres, scratch_dir
from tests.web_server import serve
from web.config import WebConfig
from web.context import WebContext
from web.db import readonly_url

CHUNK = 1_000_000
TOPICS = [
    "Earnings", "Energy | Oil", "Fed | Central Banks", "M&A | Investments", "Markets",
    "Stock Movement", "Analyst Update", "Dividend", "IPO", "Legal | Regulation", "Macro",
    "Currencies", "Gold | Metals | Materials", "Personnel Change", "Company | Product News",
    "Financials", "Politics", "Treasuries | Corporate Debt", "General News | Opinion",
    "Stock Commentary",
]  # fmt: skip
WORDS = (
    "oil crude shares earnings beats misses guidance rates bank merger deal profit loss "
    "dividend stock market rally slump downgrade upgrade inflation jobs bond yields gold "
    "currency euro dollar ipo probe lawsuit ceo appoints plant contract demand supply"
).split()

# Indexes dropped for the load and rebuilt after (building once beats maintaining 10M times).
DROP = [
    "DROP TRIGGER trg_classifications_rollup ON classifications",
    "ALTER TABLE classifications DROP CONSTRAINT fk_classifications_headline_id_headlines",
    "ALTER TABLE classifications DROP CONSTRAINT uq_classifications_headline_id_model_version",
    "DROP INDEX ix_classifications_topic_published_at, ix_classifications_published_at, "
    "ix_classifications_classified_at, ix_classifications_topic_sentiment_published_at, "
    "ix_headlines_published_at, ix_headlines_cluster_id, ix_headlines_title_tsv, "
    "ix_headlines_tickers, ix_headlines_source",
]
REBUILD = [
    "ALTER TABLE classifications ADD CONSTRAINT uq_classifications_headline_id_model_version "
    "UNIQUE (headline_id, model_version)",
    "ALTER TABLE classifications ADD CONSTRAINT fk_classifications_headline_id_headlines "
    "FOREIGN KEY (headline_id) REFERENCES headlines (id) ON DELETE CASCADE",
    "CREATE INDEX ix_classifications_topic_published_at ON classifications (topic, published_at)",
    "CREATE INDEX ix_classifications_topic_sentiment_published_at "
    "ON classifications (topic, sentiment, published_at)",
    "CREATE INDEX ix_classifications_published_at ON classifications (published_at)",
    "CREATE INDEX ix_classifications_classified_at ON classifications (classified_at)",
    "CREATE INDEX ix_headlines_published_at ON headlines (published_at)",
    "CREATE INDEX ix_headlines_cluster_id ON headlines (cluster_id)",
    "CREATE INDEX ix_headlines_source ON headlines (source, published_at)",
    "CREATE INDEX ix_headlines_tickers ON headlines USING gin (tickers)",
    "CREATE INDEX ix_headlines_title_tsv ON headlines USING gin (title_tsv)",
    "CREATE TRIGGER trg_classifications_rollup AFTER INSERT ON classifications "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION tapewatch_rollup_classifications()",
]
HEADLINES = """
INSERT INTO headlines (id, source, url, title, published_at, ingested_at, tickers, cluster_id)
SELECT md5(i::text), 'wire-' || (i % 12), 'https://news.example.com/' || i,
       'Company ' || (i % 997) || ' ' || w[1 + i % 37] || ' ' || w[1 + (i / 37) % 37] || ' '
           || w[1 + (i / 1369) % 37] || ' ' || (i % 89) || '%',
       ts, ts, CASE WHEN i % 5 = 0 THEN ARRAY['TK' || (i % 400)] ELSE '{}' END,
       md5(CASE WHEN i % 10 = 0 THEN (i - 1)::text ELSE i::text END)
FROM (SELECT i, now() - make_interval(secs => (:rows - i) * :step) AS ts,
             CAST(:words AS text[]) AS w
      FROM generate_series(:lo, :hi) AS i) g
"""
# Topic skewed (the first topics busier), about 15% negative, 65% neutral, 20% positive.
CLASSIFICATIONS = """
INSERT INTO classifications (headline_id, model_version, topic, topic_confidence, sentiment,
    sentiment_confidence, negative_probability, probabilities, published_at, classified_at)
SELECT md5(i::text), 'bench-1', (CAST(:topics AS text[]))[1 + floor(20 * power(r1, 1.6))::int],
       0.8, CASE WHEN r2 < 0.15 THEN 'negative' WHEN r2 < 0.8 THEN 'neutral' ELSE 'positive' END,
       0.8, CASE WHEN r2 < 0.15 THEN 0.85 ELSE 0.05 END,
       '{"sentiment": {"negative": 0.1, "neutral": 0.8, "positive": 0.1}}'::jsonb, ts, ts
FROM (SELECT i, now() - make_interval(secs => (:rows - i) * :step) AS ts,
             ((i::bigint * 2654435761) % 1000003) / 1000003.0 AS r1,
             ((i::bigint * 40503) % 999983) / 999983.0 AS r2
      FROM generate_series(:lo, :hi) AS i) g
"""
ROLLUP = """
INSERT INTO topic_sentiment_rollup
    (grain_s, bucket, topic, headlines, negative, neutral, positive, sum_negative_probability)
SELECT g.grain_s, date_bin(make_interval(secs => g.grain_s), c.published_at,
       TIMESTAMPTZ '2000-01-01 00:00:00+00'), c.topic, count(*),
       count(*) FILTER (WHERE sentiment = 'negative'),
       count(*) FILTER (WHERE sentiment = 'neutral'),
       count(*) FILTER (WHERE sentiment = 'positive'), sum(negative_probability)
FROM classifications c CROSS JOIN (VALUES (60), (300), (3600)) AS g (grain_s)
GROUP BY 1, 2, 3
"""
ALERT = """
INSERT INTO alerts (fingerprint, rule, topic, state, started_at, fired_at, last_evaluated_at,
                    evidence)
VALUES ('bench', 'negative_spike', 'Energy | Oil', 'firing', now() - interval '20 minutes',
        now() - interval '15 minutes', now(), '{}'::jsonb)
"""
# The charts from the plain views: what v_topic_sentiment_5m computed before the rollups.
PLAIN = {
    "overview 24h (plain view)": """
        SELECT date_bin('5 minutes', published_at, TIMESTAMPTZ '2000-01-01') AS bucket, topic,
               count(*), count(*) FILTER (WHERE sentiment = 'negative')
        FROM v_headlines WHERE topic IS NOT NULL AND published_at >= now() - interval '24 hours'
        GROUP BY 1, 2""",
    "overview 30d (plain view)": """
        SELECT date_bin('1 hour', published_at, TIMESTAMPTZ '2000-01-01') AS bucket, topic,
               count(*), count(*) FILTER (WHERE sentiment = 'negative')
        FROM v_headlines WHERE topic IS NOT NULL AND published_at >= now() - interval '30 days'
        GROUP BY 1, 2""",
    "v_topic_sentiment_5m, last 24 h (old definition)": """
        SELECT * FROM (
            SELECT date_bin('5 minutes', published_at, TIMESTAMPTZ '2000-01-01') AS bucket,
                   topic, count(*) AS headlines
            FROM v_headlines WHERE topic IS NOT NULL GROUP BY 1, 2) v
        WHERE bucket >= now() - interval '24 hours'""",
}
ENDPOINTS = [
    "/api/v1/overview?range=1h",
    "/api/v1/overview?range=24h",
    "/api/v1/overview?range=7d",
    "/api/v1/overview?range=30d",
    "/api/v1/alerts",
    "/api/v1/alerts/1",
    "/api/v1/headlines",
    "/api/v1/headlines?topic=Energy%20%7C%20Oil",
    "/api/v1/headlines?topic=Politics&sentiment=negative",
    "/api/v1/headlines?ticker=TK7",
    "/api/v1/headlines?source=wire-3",
    "/api/v1/headlines?q=merger",
    "/api/v1/headlines?q=%22crude%20slump%22",
    "/api/v1/pipeline",
    "/?range=24h",
    "/headlines",
]


def run_sql(engine: Engine, sql: str, label: str, **params: object) -> None:
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(sql), params)
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)


def load(engine: Engine, rows: int, days: float) -> None:
    step = days * 86400 / rows
    print(f"loading {rows:,} classified headlines over {days:g} days", flush=True)
    for statement in DROP:
        run_sql(engine, statement, statement.split(" ON ")[0][:60])
    for lo in range(1, rows + 1, CHUNK):
        hi = min(rows, lo + CHUNK - 1)
        args = {"rows": rows, "step": step, "lo": lo, "hi": hi}
        run_sql(engine, HEADLINES, f"headlines {hi:,}/{rows:,}", words=WORDS, **args)
        run_sql(engine, CLASSIFICATIONS, f"classifications {hi:,}/{rows:,}", topics=TOPICS, **args)
    run_sql(engine, ROLLUP, "rollups")
    for statement in REBUILD:
        run_sql(engine, f"SET LOCAL maintenance_work_mem = '1GB'; {statement}", statement[:70])
    run_sql(engine, ALERT, "an alert")
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    print("  vacuum analyze done", flush=True)


def loaded(engine: Engine) -> bool:
    """Whether a kept cluster was loaded by an earlier run (the alert is written last)."""
    with engine.connect() as conn:
        return (
            conn.execute(
                text("SELECT count(*) FROM alerts WHERE fingerprint = 'bench'")
            ).scalar_one()
            > 0
        )


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def time_endpoints(base: str, repeat: int) -> list[tuple[str, float, float]]:
    results = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for path in ENDPOINTS:
            for _ in range(3):
                client.get(path).raise_for_status()
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                client.get(path).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            p50, p95 = percentiles(samples)
            results.append((path, p50, p95))
            print(f"  {path}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)
    return results


def time_plain(engine: Engine, repeat: int) -> list[tuple[str, float, float]]:
    results = []
    for label, sql in PLAIN.items():
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            with engine.connect() as conn:
                conn.execute(text(sql)).all()
            samples.append((time.perf_counter() - started) * 1000)
        p50, p95 = percentiles(samples)
        results.append((label, p50, p95))
        print(f"  {label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--plain-repeat", type=int, default=3)
    parser.add_argument("--database-url", help="an empty database to use instead of a scratch one")
    parser.add_argument("--keep-dir", type=Path, help="keep the cluster here; reuse a loaded one")
    args = parser.parse_args()
    cluster = workdir = None
    if args.database_url:
        url = args.database_url
    else:
        workdir = args.keep_dir or scratch_dir("tapewatch-bench-web-")
        workdir.mkdir(mode=0o755, parents=True, exist_ok=True)
        cluster = LocalPostgres(data_dir=workdir, durable=False)
        url = cluster.start()
    try:
        upgrade(url)
        engine = make_engine(url)
        if loaded(engine):
            print("the database already holds headlines: timing them as they are", flush=True)
        else:
            started = time.perf_counter()
            load(engine, args.rows, args.days)
            print(f"load took {time.perf_counter() - started:.0f} s", flush=True)
        config = WebConfig()
        ctx = WebContext(config=config, database_url=readonly_url(config, url))
        print(f"timing {len(ENDPOINTS)} endpoints, {args.repeat} requests each", flush=True)
        with serve(ctx) as base:
            rows = time_endpoints(base, args.repeat)
        plain = []
        if args.plain_repeat > 0:  # 0: skip them (minutes each at 10 M rows)
            print(f"timing the plain views, {args.plain_repeat} runs each", flush=True)
            plain = time_plain(engine, args.plain_repeat)
        engine.dispose()
        print(f"\n| endpoint ({args.rows:,} rows, {args.days:g} days) | p50 ms | p95 ms |")
        print("|---|---|---|")
        for label, p50, p95 in rows + plain:
            print(f"| `{label}` | {p50:.1f} | {p95:.1f} |")
    finally:
        if cluster is not None:
            cluster.stop()
            if args.keep_dir is None:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
