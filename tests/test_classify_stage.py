"""The classify worker as a real subprocess against the real broker and PostgreSQL: every
headline stored exactly once through crashes, bad messages, a database outage and two workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg2
import pytest
from kafka import KafkaConsumer, KafkaProducer

from tapewatch.local import LocalKafka, LocalPostgres, scratch_dir
from tapewatch.local.proc import free_port, wait_until
from tapewatch.settings import Settings
from tapewatch.topics import ensure_topics
from tests.conftest import BIN


class Pipeline:
    """Topics, a consumer group and helpers for one test."""

    def __init__(self, kafka: LocalKafka, database_url: str, model_dir: Path) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.kafka = kafka
        self.database_url = database_url
        self.settings = Settings(
            topic_raw=f"raw.{suffix}",
            topic_classified=f"classified.{suffix}",
            topic_dlq=f"dlq.{suffix}",
            topic_partitions=6,
        )
        ensure_topics(kafka.bootstrap, self.settings)
        # Workers start in an empty directory with their own state directory, so a test can
        # see what they write where.
        self.workdir = scratch_dir("worker-cwd-")
        self.state_dir = scratch_dir("worker-state-")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWATCH_")} | {
            "TAPEWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "TAPEWATCH_STATE_DIR": str(self.state_dir),
            "TAPEWATCH_DATABASE_URL": database_url,
            "TAPEWATCH_TOPIC_RAW": self.settings.topic_raw,
            "TAPEWATCH_TOPIC_CLASSIFIED": self.settings.topic_classified,
            "TAPEWATCH_TOPIC_DLQ": self.settings.topic_dlq,
            "TAPEWATCH_CLASSIFY__GROUP_ID": f"classify-{suffix}",
            "TAPEWATCH_CLASSIFY__METRICS_PORT": "0",
            "TAPEWATCH_HEALTH__CLASSIFY_PORT": "0",
            "TAPEWATCH_CLASSIFY__MAX_BATCH": "64",
            "TAPEWATCH_CLASSIFY__DB_RETRY_MAX_S": "1",
            "TAPEWATCH_MODEL_DIR": str(model_dir),
            "TAPEWATCH_DEVICE": "cpu",
            "TAPEWATCH_LOG_LEVEL": "INFO",
        }
        self.workers: list[subprocess.Popen[bytes]] = []
        self.producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", linger_ms=5)

    def start_worker(
        self, name: str, metrics_port: int = 0, health_port: int = 0, *args: str
    ) -> subprocess.Popen[bytes]:
        log = (Path(scratch_dir("worker-log-")) / f"{name}.log").open("wb")
        env = self.env | {
            "TAPEWATCH_CLASSIFY__METRICS_PORT": str(metrics_port),
            "TAPEWATCH_HEALTH__CLASSIFY_PORT": str(health_port),
        }
        proc = subprocess.Popen(
            [BIN, "worker", "classify", *args], env=env, stdout=log, stderr=log, cwd=self.workdir
        )
        proc.log_path = log.name  # type: ignore[attr-defined]
        self.workers.append(proc)
        return proc

    def produce(self, ids: range, *, title: str = "fed hike rates acme {i}") -> list[str]:
        sent = []
        for i in ids:
            hid = f"{i:032x}"
            doc = {
                "id": hid,
                "source": "test",
                "title": title.format(i=i),
                "published_at": datetime.now(UTC).isoformat(),
                "ingested_at": datetime.now(UTC).isoformat(),
                "tickers": [],
            }
            self.producer.send(
                self.settings.topic_raw, key=hid.encode(), value=json.dumps(doc).encode()
            )
            sent.append(hid)
        self.producer.flush()
        return sent

    def produce_raw(self, key: bytes, value: bytes) -> None:
        self.producer.send(self.settings.topic_raw, key=key, value=value)
        self.producer.flush()

    def rows(self) -> list[str]:
        conn = psycopg2.connect(self.database_url.replace("postgresql+psycopg2", "postgresql"))
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT headline_id FROM classifications ORDER BY headline_id")
                return [r[0] for r in cur.fetchall()]
        finally:
            conn.close()

    def wait_rows(self, n: int, timeout: float = 180) -> list[str]:
        deadline = time.monotonic() + timeout
        rows: list[str] = []
        while time.monotonic() < deadline:
            try:
                rows = self.rows()
            except psycopg2.OperationalError:
                rows = []
            if len(rows) >= n:
                break
            for w in self.workers:
                assert w.poll() is None or w.returncode in (-9, 0), self.logs()
            time.sleep(0.5)
        return rows

    def topic_values(self, topic: str, n: int, timeout_ms: int = 20_000) -> list[bytes]:
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=self.kafka.bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=timeout_ms,
            group_id=None,
        )
        values = []
        for message in consumer:
            values.append(message.value)
            if len(values) >= n:
                break
        consumer.close()
        return values

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            Path(w.log_path).read_text(errors="replace")[-tail:]  # type: ignore[attr-defined]
            for w in self.workers
        )

    def close(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
        self.producer.close()


@pytest.fixture
def pipeline(kafka: LocalKafka, database_url: str, tiny_model_dir: Path) -> Iterator[Pipeline]:
    p = Pipeline(kafka, database_url, tiny_model_dir)
    yield p
    p.close()


def test_every_headline_is_stored_exactly_once(pipeline: Pipeline) -> None:
    sent = pipeline.produce(range(2000))
    health = f"http://127.0.0.1:{free_port()}"
    pipeline.start_worker("w1", health_port=int(health.rsplit(":", 1)[1]))
    rows = pipeline.wait_rows(2000)
    time.sleep(3)  # would any extra rows still arrive?
    rows = pipeline.rows()
    assert rows == sorted(sent), pipeline.logs()
    # Caught up, model loaded, all six partitions held: alive and ready, and it says so.
    ready = httpx.get(f"{health}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["partitions"] == 6 and ready.json()["lag"] == 0
    assert httpx.get(f"{health}/healthz", timeout=5).json()["status"] == "ok"
    published = pipeline.topic_values(pipeline.settings.topic_classified, 2000)
    ids = {json.loads(v)["headline_id"] for v in published}
    assert ids == set(sent)
    # Nothing lands in the directory the worker was started from; Faust's files stay in state.
    assert list(pipeline.workdir.iterdir()) == []
    assert (pipeline.state_dir / "faust").is_dir()


def test_sigkill_mid_stream_loses_and_duplicates_nothing(pipeline: Pipeline) -> None:
    sent = pipeline.produce(range(3000))
    worker = pipeline.start_worker("victim")
    assert wait_until(lambda: len(pipeline.rows()) >= 200, timeout=180), pipeline.logs()
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    partial = len(pipeline.rows())
    assert partial < 3000, "the worker finished before it could be killed; produce more"
    pipeline.start_worker("successor")
    rows = pipeline.wait_rows(3000)
    time.sleep(3)
    assert pipeline.rows() == sorted(sent), pipeline.logs()
    assert len(rows) == 3000


def test_a_restarted_worker_takes_its_partitions_back_without_waiting_out_the_session(
    pipeline: Pipeline,
) -> None:
    """Static membership: the successor rejoins under the killed worker's member id and gets
    the partitions at once, instead of after the dead member's session expires (60 s here, so
    that a slow start on a loaded machine cannot pass for the wait)."""
    pipeline.env["TAPEWATCH_CLASSIFY__SESSION_TIMEOUT_S"] = "60"
    sent = pipeline.produce(range(20_000))
    worker = pipeline.start_worker("victim")
    assert wait_until(lambda: len(pipeline.rows()) >= 200, timeout=180), pipeline.logs()
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed_at = time.monotonic()
    at_kill = len(pipeline.rows())
    successor = pipeline.start_worker("successor")
    assert wait_until(lambda: len(pipeline.rows()) > at_kill, timeout=180, interval=0.1)
    recovery = time.monotonic() - killed_at
    log = Path(successor.log_path).read_text()  # type: ignore[attr-defined]
    assigned = float(log.split("start-up: partitions_assigned ")[1].split(" s")[0])
    assert assigned < 45, f"partitions {assigned:.1f} s after exec (recovery {recovery:.1f} s)"
    assert "(member " in log and "dynamic" not in log
    pipeline.wait_rows(len(sent))
    time.sleep(2)
    assert pipeline.rows() == sorted(sent), pipeline.logs()


def _log_of(worker: subprocess.Popen[bytes]) -> str:
    return Path(worker.log_path).read_text(errors="replace")  # type: ignore[attr-defined]


def test_a_warm_standby_stores_the_next_batch_right_after_the_worker_is_killed(
    pipeline: Pipeline,
) -> None:
    """The standby loads its model, then waits on the slot's lock without binding the worker's
    ports; SIGKILL the worker and the standby takes the lock, rejoins under the same static id
    and stores the next batch within a second or two (a cold restart took about 7.5 s here),
    with nothing lost or stored twice. A 60 s session: waiting it out would show."""
    pipeline.env["TAPEWATCH_CLASSIFY__SESSION_TIMEOUT_S"] = "60"
    pipeline.env["TAPEWATCH_CLASSIFY__WORKER_SLOT"] = "0"
    health, metrics = free_port(), free_port()
    sent = pipeline.produce(range(20_000))
    active = pipeline.start_worker("active", metrics, health)
    standby = pipeline.start_worker("standby", metrics, health, "--standby")
    assert wait_until(lambda: "waiting for slot 0" in _log_of(standby), timeout=180), (
        pipeline.logs()
    )
    assert wait_until(lambda: len(pipeline.rows()) >= 200, timeout=180), pipeline.logs()
    # While it waits, the worker's ports are the worker's: the standby has not even tried them.
    waiting = _log_of(standby)
    assert "health endpoints" not in waiting and "took slot" not in waiting, waiting
    assert httpx.get(f"http://127.0.0.1:{health}/healthz", timeout=5).status_code == 200
    assert standby.poll() is None

    active.send_signal(signal.SIGKILL)
    active.wait()
    killed_at = time.monotonic()
    at_kill = len(pipeline.rows())
    assert at_kill < len(sent), "the worker finished before it could be killed; produce more"
    assert wait_until(lambda: len(pipeline.rows()) > at_kill, timeout=60, interval=0.05)
    recovery = time.monotonic() - killed_at
    log = _log_of(standby)
    assert "took slot 0" in log, log
    assert recovery < 5, f"next batch {recovery:.1f} s after the kill\n{log[-3000:]}"
    # It now serves the slot's health port itself, and holds every partition.
    ready = lambda: httpx.get(f"http://127.0.0.1:{health}/readyz", timeout=5)  # noqa: E731
    assert wait_until(lambda: ready().json().get("partitions") == 6, timeout=30), ready().text
    assert "takeover: first batch" in _log_of(standby)
    pipeline.wait_rows(len(sent))
    time.sleep(2)
    assert pipeline.rows() == sorted(sent), pipeline.logs()


def test_malformed_messages_go_to_the_dead_letter_topic(pipeline: Pipeline) -> None:
    good = pipeline.produce(range(100))
    bad = {
        b"bad-json": b"{not json",
        b"bad-utf8": b"\xff\xfe\x00garbage",
        b"bad-schema": json.dumps({"id": "nothex", "title": "x"}).encode(),
        b"blank-title": json.dumps(
            {
                "id": "ab" * 8,
                "source": "s",
                "title": "   ",
                "published_at": "2026-11-29T12:00:00Z",
                "ingested_at": "2026-11-29T12:00:00Z",
            }
        ).encode(),
    }
    for key, value in bad.items():
        pipeline.produce_raw(key, value)
    good += pipeline.produce(range(100, 200))
    pipeline.start_worker("w")
    rows = pipeline.wait_rows(200)
    dead = [json.loads(v) for v in pipeline.topic_values(pipeline.settings.topic_dlq, len(bad))]
    assert rows == sorted(good), pipeline.logs()
    assert len(dead) == len(bad)
    reasons = {d["original"] if d["encoding"] == "utf-8" else "base64": d["reason"] for d in dead}
    assert "not JSON" in reasons["{not json"]
    assert "not JSON" in reasons["base64"]
    assert all(d["source_topic"] == pipeline.settings.topic_raw for d in dead)
    assert any(d["reason"] == "empty text" and d["stage"] == "classify" for d in dead)


def test_database_outage_mid_stream_loses_and_duplicates_nothing(
    kafka: LocalKafka, tiny_model_dir: Path
) -> None:
    from storage.migrate import upgrade

    cluster = LocalPostgres(data_dir=scratch_dir("tapewatch-outage-"), durable=False)
    url = cluster.start()
    upgrade(url)
    pipeline = Pipeline(kafka, url, tiny_model_dir)
    try:
        sent = pipeline.produce(range(1500))
        pipeline.start_worker("w")
        assert wait_until(lambda: len(pipeline.rows()) >= 100, timeout=180), pipeline.logs()
        cluster.stop()
        pipeline.produce(range(1500, 2500))
        sent += [f"{i:032x}" for i in range(1500, 2500)]
        time.sleep(5)  # the worker keeps retrying, offsets stay where they are
        assert pipeline.workers[0].poll() is None, pipeline.logs()
        cluster.start()
        rows = pipeline.wait_rows(2500)
        time.sleep(3)
        assert pipeline.rows() == sorted(sent), pipeline.logs()
        assert len(rows) == 2500
        assert "database write failed" in pipeline.logs(tail=10**7)
    finally:
        pipeline.close()
        cluster.stop()


def test_two_workers_split_the_partitions(pipeline: Pipeline) -> None:
    sent = pipeline.produce(range(2000))
    ports = [free_port(), free_port()]
    pipeline.start_worker("a", metrics_port=ports[0])
    pipeline.start_worker("b", metrics_port=ports[1])
    rows = pipeline.wait_rows(2000)
    time.sleep(3)
    assert pipeline.rows() == sorted(sent), pipeline.logs()
    assert len(rows) == 2000

    # Each worker reports the partitions it holds on its Prometheus endpoint.
    def assigned() -> list[float]:
        return [_gauge(port, "tapewatch_classify_assigned_partitions") for port in ports]

    # The group may still be settling right after the last row; give it a moment.
    wait_until(lambda: all(n >= 1 for n in assigned()) and sum(assigned()) == 6, timeout=30)
    final = assigned()
    assert all(n >= 1 for n in final), final
    assert sum(final) == 6, final


def _gauge(port: int, name: str) -> float:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported on port {port}")


def test_worker_stops_within_its_grace_when_the_broker_is_gone(
    database_url: str, tiny_model_dir: Path
) -> None:
    """Faust alone would wait forever for a vanished broker; the worker exits after its grace."""
    broker = LocalKafka(data_dir=scratch_dir("tapewatch-gone-"), cache_dir=Settings().cache_dir)
    broker.start()
    pipeline = Pipeline(broker, database_url, tiny_model_dir)
    pipeline.env["TAPEWATCH_CLASSIFY__SHUTDOWN_GRACE_S"] = "5"
    try:
        sent = pipeline.produce(range(50))
        worker = pipeline.start_worker("orphaned")
        assert pipeline.wait_rows(50) == sorted(sent), pipeline.logs()
        broker.stop()
        time.sleep(3)
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        assert time.monotonic() - started < 30, "the worker hung after SIGTERM"
        logs = pipeline.logs(tail=10**7)
        assert "exiting now" in logs or worker.returncode == 0
        # The client retries every ~100 ms; repeats of one error are shown once per 30 s.
        client_errors = [
            line
            for line in logs.splitlines()
            if (" ERROR " in line or " WARNING " in line) and " aiokafka" in line
        ]
        assert len(client_errors) < 10, "\n".join(client_errors)
    finally:
        pipeline.close()
        broker.stop()
