"""The Pipeline page's dead letters, read from a real broker's dead-letter topic."""

from __future__ import annotations

import time

from kafka import KafkaProducer

from classify.agent import dead_letter_value
from classify.stage import DeadLetter
from tapewatch.local.kafka import LocalKafka
from tapewatch.local.proc import free_port
from web.dead_letters import read_dead_letters


def test_the_count_and_the_latest_dead_letters_with_their_reasons(
    kafka: LocalKafka, topic_name: str
) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for n in range(14):
        dead = DeadLetter(
            key=None, value=f'{{"id": {n}'.encode(), reason=f"bad JSON {n}", stage="decode"
        )
        producer.send(topic_name, dead_letter_value(dead, None, "headlines.raw"))
    producer.send(topic_name, b"\xff not even JSON")
    producer.flush()
    producer.close()

    found = read_dead_letters(kafka.bootstrap, topic_name, latest=5)

    assert found.error is None
    assert found.count == 15
    assert len(found.latest) == 5
    reasons = [r["reason"] for r in found.latest]
    assert "bad JSON 13" in reasons and "not JSON" in reasons  # the newest, the unreadable one
    assert "bad JSON 0" not in reasons
    record = next(r for r in found.latest if r["reason"] == "bad JSON 13")
    assert record["stage"] == "decode" and record["original"] == '{"id": 13'


def test_a_topic_nothing_was_dead_lettered_to_counts_zero(kafka: LocalKafka) -> None:
    found = read_dead_letters(kafka.bootstrap, "test.never-written")
    assert (found.count, found.latest, found.error) == (0, [], None)


def test_no_broker_says_so_within_seconds() -> None:
    started = time.monotonic()
    found = read_dead_letters(f"127.0.0.1:{free_port()}", "headlines.dlq")
    assert found.count is None and found.error
    assert time.monotonic() - started < 15
