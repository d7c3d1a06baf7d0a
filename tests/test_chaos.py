"""The chaos suite's short form (bench/chaos.py): the classify worker SIGKILLed mid-stream under
the real supervisor, PostgreSQL stopped mid-stream, and the alerts worker SIGKILLed while it
delivers to a flaky receiver, against the real broker: every headline stored exactly once, a
killed worker back to storing batches within seconds, every notification received."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from bench.chaos import SHORT, run_suite
from tapewatch.local import LocalKafka, LocalPostgres


@pytest.mark.slow
def test_the_short_chaos_suite_loses_and_duplicates_nothing(
    kafka: LocalKafka, postgres: LocalPostgres, tiny_model_dir: Path
) -> None:
    reports = {r.scenario: r for r in run_suite(kafka, postgres, tiny_model_dir, SHORT)}
    for report in reports.values():
        assert report.rows_out == report.headlines_in, report
        assert report.duplicates == 0 and report.missing == 0, report
    kills = reports["classify-kills"]
    assert kills.faults == SHORT.classify_kills, kills
    # The targets, with the tiny model: next stored batch within 15 s (p50) / 30 s.
    assert statistics.median(kills.recoveries_s) <= 15, kills.recoveries_s
    assert max(kills.recoveries_s) <= 30, kills.recoveries_s
    outage = reports["postgres-outage"]
    assert outage.recoveries_s and outage.recoveries_s[0] <= 15, outage
    # Every notification reached the receiver (down, then 500s, then up) through the kills.
    delivery = reports["alerts-delivery"]
    assert delivery.faults == 3 and delivery.rows_out == delivery.headlines_in, delivery
