"""Reading back what the code under test published to the real broker."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from tapewatch.events import Headline, decode_headline


def topic_size(bootstrap: str, topic: str) -> int:
    """How many messages the topic holds (the sum of its partitions' end offsets)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        consumer.close()


def consume_headlines(
    bootstrap: str, topic: str, want: int | None = None, timeout_ms: int = 20_000
) -> list[tuple[bytes, Headline]]:
    """``want`` messages (default: all the topic holds now) from the beginning, decoded."""
    if want is None:
        want = topic_size(bootstrap, topic)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=timeout_ms,
    )
    got = []
    for message in consumer:
        got.append((message.key, decode_headline(message.value)))
        if len(got) >= want:
            break
    consumer.close()
    return got
