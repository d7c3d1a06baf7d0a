"""The repeat filter keeps a broker outage from flooding the log, and hides nothing else."""

from __future__ import annotations

import logging

from tapewatch.logs import RepeatFilter


def _record(name: str, msg: str, level: int = logging.ERROR, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_repeated_library_errors_pass_once_per_interval_and_report_the_rest() -> None:
    now = [0.0]
    repeat = RepeatFilter(prefixes=("aiokafka",), interval_s=30, clock=lambda: now[0])
    passed = []
    for i in range(300):  # 30 s of reconnect errors every 100 ms
        now[0] = i * 0.1
        record = _record("aiokafka.conn", "Unable connect to %s: %r", logging.ERROR, "node-1", i)
        if repeat.filter(record):
            passed.append(record.getMessage())
    now[0] = 30.0
    last = _record("aiokafka.conn", "Unable connect to %s: %r", logging.ERROR, "node-1", 300)
    assert repeat.filter(last)
    assert passed == ["Unable connect to node-1: 0"]
    assert last.getMessage() == "Unable connect to node-1: 300 [299 repeats in the last 30s hidden]"


def test_other_messages_levels_and_our_own_loggers_are_untouched() -> None:
    repeat = RepeatFilter(prefixes=("aiokafka",), interval_s=30, clock=lambda: 0.0)
    assert repeat.filter(_record("aiokafka.conn", "connection lost"))
    assert repeat.filter(_record("aiokafka.conn", "metadata update failed"))  # a different one
    assert all(repeat.filter(_record("aiokafka.conn", "debug", logging.INFO)) for _ in range(5))
    assert all(repeat.filter(_record("classify.agent", "store failed")) for _ in range(5))
    assert not repeat.filter(_record("aiokafka.conn", "connection lost"))
