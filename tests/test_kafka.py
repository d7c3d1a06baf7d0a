"""The real Apache Kafka broker: messages round-trip with keys, a consumer group commits offsets
and a restarted consumer resumes after them; the local runner leaves no JVM behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from tapewatch.local import LocalKafka
from tapewatch.local.proc import wait_until
from tapewatch.settings import Settings
from tapewatch.topics import ensure_topics


def _consume(bootstrap: str, topic: str, group: str, want: int) -> list[tuple[bytes, bytes]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15_000,
    )
    got: list[tuple[bytes, bytes]] = []
    for message in consumer:
        got.append((message.key, message.value))
        if len(got) == want:
            break
    consumer.commit()
    consumer.close()
    return got


def test_round_trip_with_consumer_group_and_committed_offsets(
    kafka: LocalKafka, topic_name: str
) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    admin.create_topics([NewTopic(topic_name, num_partitions=3, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    for i in range(30):
        producer.send(topic_name, key=f"k{i}".encode(), value=f"v{i}".encode())
    producer.flush()

    first = _consume(kafka.bootstrap, topic_name, "g1", want=20)
    assert len(first) == 20

    # A new consumer in the same group resumes after the committed offsets: no repeats.
    rest = _consume(kafka.bootstrap, topic_name, "g1", want=10)
    seen = first + rest
    assert sorted(seen) == sorted((f"k{i}".encode(), f"v{i}".encode()) for i in range(30))

    for i in range(30, 35):
        producer.send(topic_name, key=f"k{i}".encode(), value=f"v{i}".encode())
    producer.flush()
    producer.close()
    assert sorted(_consume(kafka.bootstrap, topic_name, "g1", want=5)) == sorted(
        (f"k{i}".encode(), f"v{i}".encode()) for i in range(30, 35)
    )


def test_ensure_topics_creates_pipeline_topics_once(kafka: LocalKafka) -> None:
    suffix = str(time.time_ns())
    settings = Settings(
        topic_raw=f"raw.{suffix}",
        topic_classified=f"cls.{suffix}",
        topic_dlq=f"dlq.{suffix}",
        topic_partitions=4,
    )
    assert sorted(ensure_topics(kafka.bootstrap, settings)) == sorted(
        [settings.topic_raw, settings.topic_classified, settings.topic_dlq]
    )
    assert ensure_topics(kafka.bootstrap, settings) == []
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap)
    assert consumer.partitions_for_topic(settings.topic_raw) == {0, 1, 2, 3}
    consumer.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_broker_dies_with_a_killed_parent(tmp_path: Path) -> None:
    """No orphan JVM even when the process that started the broker is SIGKILLed."""
    tmp_path.chmod(0o755)
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from tapewatch.local import LocalKafka
        k = LocalKafka(
            data_dir=Path({str(tmp_path)!r}), cache_dir=Path({str(Settings().cache_dir)!r})
        )
        k.start()
        print(k.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    jvm_pid = int(parent.stdout.readline())
    assert _alive(jvm_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert wait_until(lambda: not _alive(jvm_pid), timeout=30), "broker JVM outlived its parent"


def test_cluster_ids_never_look_like_options() -> None:
    from tapewatch.local.kafka import cluster_id

    ids = {cluster_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
