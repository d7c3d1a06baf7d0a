"""What the monitor would have seen of the demo under two models: the demo's history and burst
stored once, read by model A and by model B, and the alert rules replayed over each.

    .venv/bin/python bench/demo_backtest.py --a models/tapewatch-minilm --b runs/news1

Builds the same stream `make run`'s demo feeds (an hour of backfill at 40 headlines a minute,
then 20 a second with a quarter negative energy news from the burst's start for four minutes;
`--pools generated` for the project's own headlines, `labelled` for the data directory's),
stores it in a throwaway PostgreSQL cluster, classifies it with both models (the reclassify
path), and runs the backtest under the demo's alert settings for each. Prints whether the
Energy | Oil alert fires, how long after the burst began, what else fires, and `models diff`'s
agreement figures. Sends nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from sqlalchemy import text

from alerts.config import AlertsConfig
from classify.diff import diff
from classify.predictor import Predictor
from classify.reclassify import Window, reclassify
from storage.db import make_engine
from storage.migrate import upgrade
from storage.model_versions import register
from tapewatch.demo.generated import generated_pools
from tapewatch.demo.overrides import DEMO_ALERTS
from tapewatch.demo.scenario import BURST_TOPIC, Scenario, Stream, load_pools
from tapewatch.local import LocalPostgres, scratch_dir
from tapewatch.settings import Settings

AFTER_BURST_S = 180.0  # keep streaming this long after the burst ends: does the alert resolve?


def demo_alerts() -> AlertsConfig:
    """The alert settings `make run`'s demo uses (short windows, 10 s evaluations)."""
    prefix = "TAPEWATCH_ALERTS__"
    fields = {k[len(prefix) :].lower(): int(v) for k, v in DEMO_ALERTS.items()}
    fields.pop("delivery_poll_seconds", None)
    return AlertsConfig(**fields)


def store_stream(url: str, stream: Stream, scenario: Scenario, t0: datetime) -> int:
    planned = stream.backfill()
    end = scenario.burst_after_s + scenario.burst_seconds + AFTER_BURST_S
    count = int(end * scenario.rate_per_s)
    planned += list(islice(stream.live(), count))
    rows = [
        {
            "id": hashlib.sha256(f"{i}:{p.title}".encode()).hexdigest()[:32],
            "title": p.title,
            "at": t0 + timedelta(seconds=p.offset_s),
        }
        for i, p in enumerate(planned)
    ]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO headlines (id, source, title, published_at, ingested_at) "
                "VALUES (:id, 'demo-replay', :title, :at, :at)"
            ),
            rows,
        )
    engine.dispose()
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, required=True, help="baseline model directory")
    parser.add_argument("--b", type=Path, required=True, help="candidate model directory")
    parser.add_argument("--pools", choices=("generated", "labelled"), default="generated")
    parser.add_argument("--data-dir", type=Path, default=Settings().data_dir)
    parser.add_argument("--output", type=Path, help="also write the report as JSON")
    args = parser.parse_args()

    pools = generated_pools() if args.pools == "generated" else load_pools(args.data_dir)
    scenario = Scenario()
    stream = Stream(pools, scenario)
    t0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # any fixed time: the replay is of the past
    burst_at = t0 + timedelta(seconds=scenario.burst_after_s)
    workdir = scratch_dir("tapewatch-demo-backtest-")
    report: dict[str, object] = {"pools": args.pools, "burst_starts": burst_at.isoformat()}
    try:
        with LocalPostgres(data_dir=workdir, durable=False) as pg:
            url = pg.url()
            upgrade(url)
            n = store_stream(url, stream, scenario, t0)
            print(f"stored {n} demo headlines ({args.pools} pools)")
            engine = make_engine(url)
            window = Window(t0 - timedelta(hours=2), t0 + timedelta(hours=1))
            versions = {}
            for name, directory in (("a", args.a), ("b", args.b)):
                predictor = Predictor.from_dir(directory)
                register(engine, predictor.version, directory, activate_if_none=True)
                started = time.perf_counter()
                progress = reclassify(engine, predictor, window)
                print(
                    f"{name}: {directory} ({predictor.version}) classified {progress.stored} "
                    f"in {time.perf_counter() - started:.0f} s"
                )
                versions[name] = predictor.version
            since = t0 - timedelta(minutes=5)
            until = t0 + timedelta(seconds=scenario.burst_after_s + scenario.burst_seconds)
            until += timedelta(seconds=AFTER_BURST_S)
            result = diff(engine, demo_alerts(), versions["a"], versions["b"], since, until)
            engine.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    doc = result.as_dict()
    report |= {"versions": versions, "agreement": doc["agreement"]}
    for name in ("a", "b"):
        fired = doc["alerts"][name]
        burst = [a for a in fired if a["topic"] == BURST_TOPIC]
        after = None
        if burst:
            after = (datetime.fromisoformat(burst[0]["fired_at"]) - burst_at).total_seconds()
        report[name] = {
            "burst_alert_fires": bool(burst),
            "seconds_after_burst_start": after,
            "other_alerts": sorted({a["topic"] for a in fired if a["topic"] != BURST_TOPIC}),
            "alerts": fired,
        }
        print(
            f"{name} ({versions[name]}): {BURST_TOPIC} "
            + (f"fires {after:.0f} s after the burst began" if burst else "does not fire")
            + f"; other alerts: {report[name]['other_alerts'] or 'none'}"  # type: ignore[index]
        )
    agree = doc["agreement"]
    print(
        f"agreement over {doc['headlines']} headlines: topic {agree['topic']:.3f}, "
        f"sentiment {agree['sentiment']:.3f}, both {agree['both']:.3f}"
    )
    print("sentiment confusion (rows: a, columns: b):", json.dumps(doc["sentiment_confusion"]))
    if args.output:
        args.output.write_text(json.dumps(report | {"diff": doc}, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
