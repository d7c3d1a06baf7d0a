"""Profile: the overview answer built in-process, split into SQL and Python time.

Runs ``web.queries.overview.overview`` and the API's JSON encoding (``web.api._plain``) on one
connection per answer, without HTTP, against a database loaded by ``bench_web.py`` (its
``--keep-dir`` cluster, or ``--database-url``). SQL time is what the driver spends executing
the statements (SQLAlchemy's cursor events); Python time is the rest: fetching the rows,
building the answer and encoding it. Prints p50 / p95 per range, the answer's size and cells,
and a cProfile of the widest range's slowest functions.

    python bench/profile_overview.py --keep-dir DIR [--repeat 30]

Results are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tapewatch.local import LocalPostgres
from web.api import _plain
from web.config import WebConfig
from web.context import WebContext
from web.db import readonly_url
from web.queries.overview import overview

RANGES = ["1h", "24h", "7d", "30d"]


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[round(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-dir", type=Path, help="a cluster kept by bench_web.py")
    parser.add_argument("--database-url", help="a database loaded by bench_web.py")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    cluster = None
    if args.database_url:
        url = args.database_url
    else:
        cluster = LocalPostgres(data_dir=args.keep_dir, durable=False)
        url = cluster.start()
    try:
        config = WebConfig()
        ctx = WebContext(config=config, database_url=readonly_url(config, url))
        engine = create_engine(ctx.database_url)
        sql_s = [0.0]
        started_at: list[float] = []

        @event.listens_for(engine, "before_cursor_execute")
        def _before(*_: Any) -> None:
            started_at.append(time.perf_counter())

        @event.listens_for(engine, "after_cursor_execute")
        def _after(*_: Any) -> None:
            sql_s[0] += time.perf_counter() - started_at.pop()

        def answer(range_name: str) -> bytes:
            with engine.connect() as conn:
                data = overview(conn, range_name, ctx.short_window_s, ctx.baseline_s)
            return bytes(_plain(data).body)

        print("| range | total p50 / p95 ms | SQL p50 ms | Python p50 / p95 ms | answer |")
        print("|---|---|---|---|---|")
        for range_name in RANGES:
            for _ in range(3):
                answer(range_name)
            totals, sqls, pythons = [], [], []
            for _ in range(args.repeat):
                sql_s[0] = 0.0
                started = time.perf_counter()
                body = answer(range_name)
                total = (time.perf_counter() - started) * 1000
                totals.append(total)
                sqls.append(sql_s[0] * 1000)
                pythons.append(total - sql_s[0] * 1000)
            parsed = json.loads(body)
            cells = sum(len(t["share"]) for t in parsed["topics"])
            t50, t95 = p50_p95(totals)
            s50, _ = p50_p95(sqls)
            y50, y95 = p50_p95(pythons)
            print(
                f"| {range_name} | {t50:.1f} / {t95:.1f} | {s50:.1f} | {y50:.1f} / {y95:.1f} "
                f"| {len(body):,} bytes, {len(parsed['buckets'])} buckets, {cells:,} cells |",
                flush=True,
            )
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(10):
            answer(RANGES[-1])
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
        print(f"\ncProfile, 10 answers for {RANGES[-1]}, by own time:\n{out.getvalue()}")
        engine.dispose()
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
