"""Chaos suite: kill workers, the database and the broker mid-stream and count what survives.

Each scenario runs the real `tapewatch worker ...` processes under the real supervisor
(tapewatch/supervisor.py, which restarts what dies) against a real Kafka broker and PostgreSQL,
and reports: headlines in, rows out, duplicates, classifications missing, recovery time from
each fault to the next stored batch (p50 / max), and throughput with faults against a run
without them. Everything listens on loopback; every loop is bounded in count and time.

    python bench/chaos.py --short                 # the form `make test` runs (tiny model)
    python bench/chaos.py --long                  # 20,000 headlines, 10 classify kills, ...
    python bench/chaos.py --long --model models/tapewatch-minilm
    python bench/chaos.py --long --scenario classify-kills --model ... --standbys 0

The classify worker has warm standbys (processes with the model loaded, waiting for the
worker's slot) as `tapewatch up` gives it: ``TAPEWATCH_CLASSIFY__STANDBY`` and
``…__STANDBY_COUNT``; ``--standbys N`` chooses (0: none, every crash is a cold restart).

Scenarios: ``classify-kills`` (SIGKILL the classify worker N times, spread over the stream),
``ingest-kills`` (SIGKILL the ingest worker while a client pushes and retries every failure),
``postgres-outage`` (stop PostgreSQL for a while, then start it), ``broker-kill`` (SIGKILL the
broker, start it again on the same log directory), ``alerts-delivery`` (SIGKILL the alerts
worker while it delivers to a receiver that is down, then answers 500, then recovers).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg2
from kafka import KafkaProducer

from classify.slots import slot_dir, slot_path
from storage.migrate import upgrade
from tapewatch.local import LocalKafka, LocalPostgres, scratch_dir
from tapewatch.local.proc import free_port
from tapewatch.restarts import SupervisorConfig
from tapewatch.settings import Settings
from tapewatch.supervisor import ChildSpec, Supervisor
from tapewatch.topics import ensure_topics

SAMPLE_S = 0.1  # how often the stored-row count is read


@dataclass
class Report:
    scenario: str
    headlines_in: int
    rows_out: int = 0
    duplicates: int = 0
    missing: int = 0
    faults: int = 0
    recoveries_s: list[float] = field(default_factory=list)
    drain_s: float = 0.0
    baseline_drain_s: float | None = None
    # Classify worker starts: seconds from exec to its first stored batch (its own log).
    starts_s: list[float] = field(default_factory=list)
    # Standby takeovers: seconds from taking the slot to the first stored batch.
    takeovers_s: list[float] = field(default_factory=list)
    standbys: int = 0
    resent: int = 0  # the same idempotency key delivered again (dropped by the receiver)

    @property
    def throughput(self) -> float:
        return self.headlines_in / self.drain_s if self.drain_s else 0.0

    @property
    def baseline_throughput(self) -> float | None:
        if not self.baseline_drain_s:
            return None
        return self.headlines_in / self.baseline_drain_s

    def ok(self) -> bool:
        return self.rows_out == self.headlines_in and self.duplicates == 0 and self.missing == 0

    def row(self) -> str:
        rec = self.recoveries_s
        p50 = f"{statistics.median(rec):.1f}" if rec else "-"
        worst = f"{max(rec):.1f}" if rec else "-"
        base = self.baseline_throughput
        ratio = f"{self.drain_s / self.baseline_drain_s:.2f}" if self.baseline_drain_s else "-"
        start, takeover = _p50_max(self.starts_s), _p50_max(self.takeovers_s)
        scenario = self.scenario
        if self.standbys:
            scenario += f", {self.standbys} standby" + ("s" if self.standbys > 1 else "")
        return (
            f"| {scenario} | {self.faults} | {self.headlines_in} | {self.rows_out} | "
            f"{self.duplicates}{f' ({self.resent} re-sent, same key)' if self.resent else ''} | "
            f"{self.missing} | {p50} | {worst} | {self.throughput:.0f} | "
            f"{f'{base:.0f}' if base else '-'} | {ratio} | {start} | {takeover} |"
        )


def _p50_max(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {max(values):.1f}" if values else "-"


HEADER = (
    "| scenario | faults | headlines in | rows out | duplicates | missing | recovery p50 s | "
    "recovery max s | headlines/s with faults | without | drain ratio | "
    "classify exec → first batch s (p50 / max) | standby slot taken → first batch s (p50 / max) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _healthz(port: int) -> str:
    return f"http://127.0.0.1:{port}/healthz"


class Stack:
    """One run's topics, database, workers (under the supervisor) and stored-row samples."""

    def __init__(
        self,
        kafka: LocalKafka,
        postgres: LocalPostgres,
        model_dir: Path,
        *,
        ingest: bool = False,
        standbys: int = 0,
    ) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.kafka = kafka
        self.postgres = postgres
        database = f"chaos_{suffix}"
        admin = psycopg2.connect(postgres.dsn("postgres"))
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{database}"')
        admin.close()
        self.database_url = postgres.url(database)
        upgrade(self.database_url)
        self.dsn = postgres.dsn(database)
        self.settings = Settings(
            topic_raw=f"raw.{suffix}",
            topic_classified=f"classified.{suffix}",
            topic_dlq=f"dlq.{suffix}",
            topic_partitions=6,
        )
        ensure_topics(kafka.bootstrap, self.settings)
        self.push_port = free_port()
        health = {"ingest": free_port(), "classify": free_port()}
        state = scratch_dir("chaos-state-")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWATCH_")} | {
            "TAPEWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "TAPEWATCH_DATABASE_URL": self.database_url,
            "TAPEWATCH_STATE_DIR": str(state),
            "TAPEWATCH_TOPIC_RAW": self.settings.topic_raw,
            "TAPEWATCH_TOPIC_CLASSIFIED": self.settings.topic_classified,
            "TAPEWATCH_TOPIC_DLQ": self.settings.topic_dlq,
            "TAPEWATCH_MODEL_DIR": str(model_dir),
            "TAPEWATCH_DEVICE": "cpu",
            "TAPEWATCH_CLASSIFY__GROUP_ID": f"chaos-{suffix}",
            "TAPEWATCH_CLASSIFY__METRICS_PORT": "0",
            "TAPEWATCH_CLASSIFY__DB_RETRY_MAX_S": "1",
            "TAPEWATCH_INGEST__FEEDS": "[]",
            "TAPEWATCH_INGEST__PUSH_PORT": str(self.push_port),
            "TAPEWATCH_INGEST__METRICS_PORT": str(free_port()),
            "TAPEWATCH_HEALTH__INGEST_PORT": str(health["ingest"]),
            "TAPEWATCH_HEALTH__CLASSIFY_PORT": str(health["classify"]),
            "PYTHONUNBUFFERED": "1",
        }
        tapewatch = [sys.executable, "-m", "tapewatch.cli", "worker"]
        # Probed by the supervisor as `tapewatch up` does: a stalled worker is restarted too.
        # As `tapewatch up` runs them: all on slot 0, the standbys never probed.
        lock = None
        if standbys:
            env["TAPEWATCH_CLASSIFY__WORKER_SLOT"] = "0"
            lock = slot_path(slot_dir(state, env["TAPEWATCH_CLASSIFY__GROUP_ID"]), 0)
        specs = [
            ChildSpec(
                "classify",
                [*tapewatch, "classify"],
                env,
                _healthz(health["classify"]),
                slot_lock=lock,
            )
        ]
        specs += [
            ChildSpec(
                f"classify-standby-{n}",
                [*tapewatch, "classify", "--standby"],
                env,
                standby_for="classify",
            )
            for n in range(standbys)
        ]
        if ingest:
            specs.append(
                ChildSpec("ingest", [*tapewatch, "ingest"], env, _healthz(health["ingest"]))
            )
        self.supervisor = Supervisor(specs, state / "logs", SupervisorConfig())
        self.samples: list[tuple[float, int]] = []
        self.producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", linger_ms=5)

    # --- input ----------------------------------------------------------------------------------
    def produce(self, count: int) -> set[str]:
        """``count`` headlines straight onto the raw topic; returns their ids."""
        ids = set()
        now = datetime.now(UTC).isoformat()
        for i in range(count):
            hid = uuid.uuid4().hex
            doc = {
                "id": hid,
                "source": "chaos",
                "title": f"Acme {i} cuts outlook as rates bite {hid[:6]}",
                "published_at": now,
                "ingested_at": now,
                "tickers": [],
            }
            self.producer.send(
                self.settings.topic_raw, key=hid.encode(), value=json.dumps(doc).encode()
            )
            ids.add(hid)
        self.producer.flush()
        return ids

    # --- observation ----------------------------------------------------------------------------
    def stored(self) -> tuple[int, int] | None:
        """(classification rows, distinct headlines among them); None while the database is
        away."""
        try:
            conn = psycopg2.connect(self.dsn, connect_timeout=2)
        except psycopg2.OperationalError:
            return None
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*), count(DISTINCT headline_id) FROM classifications")
                rows, distinct = cur.fetchone()  # type: ignore[misc]
                return int(rows), int(distinct)
        except psycopg2.Error:
            return None
        finally:
            conn.close()

    def stored_ids(self) -> list[str]:
        conn = psycopg2.connect(self.dsn)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT headline_id FROM classifications")
                return [r[0] for r in cur.fetchall()]
        finally:
            conn.close()

    def pump(self, until: Callable[[], bool], timeout_s: float) -> bool:
        """Keep the supervisor restarting and the samples coming until ``until()`` or timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.supervisor.check()
            got = self.stored()
            if got is not None:
                self.samples.append((time.monotonic(), got[0]))
            if until():
                return True
            time.sleep(SAMPLE_S)
        return False

    def count(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def next_batch_after(self, moment: float, timeout_s: float) -> float | None:
        """Seconds from ``moment`` to the first stored batch after it."""
        before = max((n for t, n in self.samples if t <= moment), default=0)
        if not self.pump(lambda: self.count() > before, timeout_s):
            return None
        first = next(t for t, n in self.samples if t > moment and n > before)
        return first - moment

    def kill(self, name: str) -> float:
        """SIGKILL worker ``name``; returns the moment, with the rows stored by then sampled
        after the process is gone (a batch committed just before the kill is not its
        successor's)."""
        self.supervisor.check()  # whichever process holds the slot is the worker
        proc = next(c.proc for c in self.supervisor.children if c.spec.name == name)
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        moment = time.monotonic()
        got = self.stored()
        if got is not None:
            self.samples.append((moment, got[0]))
        return moment

    def starts(self) -> tuple[list[float], list[float]]:
        """Exec → first stored batch of every cold-started classify process, and slot taken →
        first stored batch of every standby that took over, from the log they share."""
        log = next(c.log_path for c in self.supervisor.children if c.spec.name == "classify")
        text = log.read_text(errors="replace")
        cold = re.compile(r"start-up: first_batch ([0-9.]+) s after exec")
        takeover = re.compile(r"takeover: first batch ([0-9.]+) s after taking the slot")
        return (
            [float(m.group(1)) for m in cold.finditer(text)],
            [float(m.group(1)) for m in takeover.finditer(text)],
        )

    def close(self) -> None:
        self.supervisor.stop(grace_s=10)
        self.producer.close()


def _finish(stack: Stack, report: Report, sent: set[str], started: float, timeout_s: float) -> None:
    total = len(sent)
    stack.pump(lambda: stack.count() >= total, timeout_s)
    report.drain_s = time.monotonic() - started
    stack.pump(lambda: False, 2.0)  # would a late duplicate still arrive?
    report.starts_s, report.takeovers_s = stack.starts()
    ids = stack.stored_ids()
    report.rows_out = len(ids)
    report.duplicates = len(ids) - len(set(ids))
    report.missing = len(sent - set(ids))


@contextmanager
def _stack(kafka: LocalKafka, postgres: LocalPostgres, model: Path, **kw: bool) -> Iterator[Stack]:
    stack = Stack(kafka, postgres, model, **kw)
    try:
        yield stack
    finally:
        stack.close()


def classify_kills(
    kafka: LocalKafka,
    postgres: LocalPostgres,
    model: Path,
    headlines: int,
    kills: int,
    rng: random.Random,
    standbys: int = 0,
) -> Report:
    """SIGKILL the classify worker ``kills`` times while it drains ``headlines``; in both runs
    the worker has ``standbys`` warm standbys to take over."""
    report = Report("classify-kills", headlines, faults=kills, standbys=standbys)
    timeout = 60 + headlines / 5
    with _stack(kafka, postgres, model, standbys=standbys) as base:
        sent = base.produce(headlines)
        started = time.monotonic()
        base.supervisor.start()
        _finish(base, report, sent, started, timeout)
        report.baseline_drain_s = report.drain_s
        assert base.stored_ids(), "the run without faults stored nothing"
    with _stack(kafka, postgres, model, standbys=standbys) as stack:
        sent = stack.produce(headlines)
        started = time.monotonic()
        stack.supervisor.start()
        # Kill k once k/(kills+1) of the stream is stored, then a random fraction of a second
        # later: placed by progress, not by the clean run's clock, so a quick recovery cannot
        # let the stream drain before the later kills land.
        for k in range(kills):
            share = (k + 1) * headlines // (kills + 1)
            if not stack.pump(lambda share=share: stack.count() >= share, timeout):
                break
            stack.pump(lambda: False, rng.uniform(0.0, 0.5))
            if stack.count() >= headlines:
                break  # drained before every kill landed; fewer faults, reported as such
            killed = stack.kill("classify")
            recovery = stack.next_batch_after(killed, timeout)
            if recovery is None:
                break
            report.recoveries_s.append(recovery)
        report.faults = len(report.recoveries_s)
        _finish(stack, report, sent, started, timeout)
    return report


def ingest_kills(
    kafka: LocalKafka,
    postgres: LocalPostgres,
    model: Path,
    headlines: int,
    kills: int,
    rng: random.Random,
) -> Report:
    """SIGKILL the ingest worker while a client pushes; the client retries every failure with
    the same headlines, so their ids stay the same."""
    report = Report("ingest-kills", headlines)
    with _stack(kafka, postgres, model, ingest=True) as stack:
        titles = [
            f"Chaos push {i}: Acme {uuid.uuid4().hex[:8]} lifts guidance" for i in range(headlines)
        ]
        url = f"http://127.0.0.1:{stack.push_port}/headlines"
        done = threading.Event()
        accepted = [0]  # headlines the endpoint accepted so far

        def client() -> None:
            with httpx.Client(timeout=5) as http:
                for start in range(0, headlines, 50):
                    body = [{"title": t, "source": "chaos"} for t in titles[start : start + 50]]
                    for _ in range(600):  # at most ~5 minutes per batch
                        try:
                            if http.post(url, json=body).status_code == 202:
                                accepted[0] += len(body)
                                break
                        except httpx.HTTPError:
                            pass
                        time.sleep(0.5)
                    time.sleep(0.5)  # a steady stream (~100/s), so the kills land mid-push
            done.set()

        started = time.monotonic()
        stack.supervisor.start()
        pusher = threading.Thread(target=client, daemon=True)
        pusher.start()
        for k in range(kills):
            # Mid-push: once another share of the headlines was accepted, plus a random moment.
            share = (k + 1) * headlines // (kills + 1)
            stack.pump(lambda share=share: accepted[0] >= share or done.is_set(), 120)
            stack.pump(done.is_set, rng.uniform(0.0, 1.0))
            if done.is_set():
                break
            stack.kill("ingest")
            report.faults += 1
            stack.pump(lambda: False, 0.5)
        stack.pump(done.is_set, 300)
        stack.pump(lambda: stack.count() >= headlines, 60 + headlines / 5)
        report.drain_s = time.monotonic() - started
        conn = psycopg2.connect(stack.dsn)
        with conn.cursor() as cur:
            cur.execute(
                # Only the client's headlines: the worker's default demo replay adds its own.
                "SELECT h.title, count(c.id) FROM headlines h "
                "LEFT JOIN classifications c ON c.headline_id = h.id WHERE h.source = 'chaos' "
                "GROUP BY h.id, h.title"
            )
            stored = cur.fetchall()
        conn.close()
        by_title = [t for t, n in stored if n]
        report.rows_out = sum(n for _, n in stored)
        report.duplicates = (
            len(stored) - len({t for t, _ in stored}) + sum(n - 1 for _, n in stored if n > 1)
        )
        report.missing = len(set(titles) - set(by_title))
    return report


def postgres_outage(
    kafka: LocalKafka, model: Path, headlines: int, outage_s: float, rng: random.Random
) -> Report:
    """Stop PostgreSQL for ``outage_s`` mid-stream, then start it again."""
    report = Report("postgres-outage", headlines, faults=1)
    cluster = LocalPostgres(data_dir=scratch_dir("chaos-pg-"), durable=False)
    cluster.start()
    try:
        with _stack(kafka, cluster, model) as stack:
            sent = stack.produce(headlines)
            started = time.monotonic()
            stack.supervisor.start()
            stack.pump(lambda: stack.count() >= headlines // 4, 60 + headlines / 5)
            cluster.stop()
            time.sleep(outage_s)
            stack.supervisor.check()
            cluster.start()
            back = time.monotonic()
            recovery = stack.next_batch_after(back, 120)
            if recovery is not None:
                report.recoveries_s.append(recovery)
            _finish(stack, report, sent, started, 60 + headlines / 5)
    finally:
        cluster.stop()
    return report


def broker_kill(
    postgres: LocalPostgres, model: Path, headlines: int, down_s: float, rng: random.Random
) -> Report:
    """SIGKILL the broker mid-stream; start it again on the same log directory."""
    report = Report("broker-kill", headlines, faults=1)
    broker = LocalKafka(data_dir=scratch_dir("chaos-kafka-"), cache_dir=Settings().cache_dir)
    broker.start()
    try:
        with _stack(broker, postgres, model) as stack:
            sent = stack.produce(headlines)
            started = time.monotonic()
            stack.supervisor.start()
            stack.pump(lambda: stack.count() >= headlines // 4, 60 + headlines / 5)
            assert broker.pid is not None
            os.kill(broker.pid, signal.SIGKILL)
            broker._proc.wait()  # type: ignore[union-attr]
            broker._proc = None
            stack.pump(lambda: False, down_s)
            broker.start()
            back = time.monotonic()
            recovery = stack.next_batch_after(back, 180)
            if recovery is not None:
                report.recoveries_s.append(recovery)
            _finish(stack, report, sent, started, 120 + headlines / 5)
    finally:
        broker.stop()
    return report


class RecordingReceiver:
    """A webhook receiver on loopback that records every idempotency key it accepts; it can be
    down (not listening), answer 500, or accept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mode = "500"
        self.keys: list[str] = []
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                status = 500 if receiver.mode == "500" else 200
                if status == 200:
                    receiver.keys.append(self.headers.get("Idempotency-Key", ""))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def alerts_delivery(
    postgres: LocalPostgres, notifications: int, kills: int, rng: random.Random
) -> Report:
    """Notifications queued in the outbox, delivered by the alerts worker to a receiver that is
    down, then answers 500, then accepts, while the alerts worker is SIGKILLed. In this row
    "headlines in" / "rows out" are notifications expected / received (distinct keys) and
    "duplicates" are keys received more than once."""
    report = Report("alerts-delivery", notifications)
    receiver = RecordingReceiver()
    suffix = uuid.uuid4().hex[:8]
    database = f"chaos_{suffix}"
    admin = psycopg2.connect(postgres.dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{database}"')
    admin.close()
    url = postgres.url(database)
    upgrade(url)
    conn = psycopg2.connect(postgres.dsn(database))
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO alerts (fingerprint, rule, topic, state, started_at, last_evaluated_at,"
            " evidence) VALUES ('chaos', 'chaos', 'chaos', 'resolved', now(), now(), '{}')"
            " RETURNING id"
        )
        (alert_id,) = cur.fetchone()  # type: ignore[misc]
        for n in range(notifications):
            cur.execute(
                "INSERT INTO alert_notifications (alert_id, idempotency_key, event, receiver,"
                " format, payload, next_attempt_at) VALUES (%s, %s, 'firing', 'chaos', 'native',"
                " %s, now())",
                (alert_id, f"chaos-{suffix}-{n}", json.dumps({"n": n})),
            )
    conn.close()
    state = scratch_dir("chaos-state-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWATCH_")} | {
        "TAPEWATCH_DATABASE_URL": url,
        "TAPEWATCH_STATE_DIR": str(state),
        "TAPEWATCH_ALERTS__METRICS_PORT": "0",
        "TAPEWATCH_ALERTS__WEBHOOK_SECRET": "chaos-secret-of-sixteen-chars",
        "TAPEWATCH_ALERTS__RECEIVERS": json.dumps([{"name": "chaos", "url": receiver.url}]),
        "TAPEWATCH_ALERTS__DELIVERY_POLL_SECONDS": "0.2",
        "TAPEWATCH_ALERTS__BACKOFF_INITIAL_SECONDS": "0.2",
        "TAPEWATCH_ALERTS__BACKOFF_MAX_SECONDS": "1",
        "TAPEWATCH_ALERTS__MAX_ATTEMPTS": "1000",
        "TAPEWATCH_HEALTH__ALERTS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    }
    spec = ChildSpec("alerts", [sys.executable, "-m", "tapewatch.cli", "worker", "alerts"], env)
    supervisor = Supervisor([spec], state / "logs", SupervisorConfig())
    started = time.monotonic()

    def run_for(seconds: float, until: Callable[[], bool] = lambda: False) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            supervisor.check()
            time.sleep(0.1)

    supervisor.start()
    try:
        run_for(5)  # receiver down: connections refused, every attempt retried
        receiver.up()  # answering 500
        run_for(5)
        receiver.mode = "ok"
        for k in range(kills):
            # Mid-delivery: once another share of the notifications has arrived.
            share = (k + 1) * notifications // (kills + 1)
            run_for(60, lambda share=share: len(set(receiver.keys)) >= share)
            run_for(rng.uniform(0.0, 0.3))
            os.kill(supervisor.children[0].proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
            report.faults += 1
        run_for(120, lambda: len(set(receiver.keys)) >= notifications)
        report.drain_s = time.monotonic() - started
    finally:
        supervisor.stop(grace_s=10)
        receiver.down()
    report.rows_out = len(set(receiver.keys))
    # At least once: a kill between the receiver's 200 and the outbox's commit re-sends that
    # notification with the same key, which the receiver drops; none is received twice after
    # that dedup, by construction of the count above.
    report.resent = len(receiver.keys) - len(set(receiver.keys))
    report.missing = notifications - report.rows_out
    return report


@dataclass(frozen=True)
class SuiteSize:
    headlines: int
    classify_kills: int
    ingest_headlines: int
    ingest_kills: int
    outage_s: float
    scenarios: tuple[str, ...]


SHORT = SuiteSize(2000, 2, 300, 1, 5.0, ("classify-kills", "postgres-outage", "alerts-delivery"))
# Notifications in the alerts-delivery scenario, and SIGKILLs of the alerts worker.
NOTIFICATIONS, ALERTS_KILLS = 300, 3
LONG = SuiteSize(
    20_000,
    10,
    2000,
    2,
    30.0,
    ("classify-kills", "ingest-kills", "postgres-outage", "broker-kill", "alerts-delivery"),
)


def run_suite(
    kafka: LocalKafka,
    postgres: LocalPostgres,
    model: Path,
    size: SuiteSize,
    *,
    seed: int = 7,
    say: Callable[[str], None] = print,
    standbys: int | None = None,
) -> list[Report]:
    """``standbys``: the classify worker's warm standbys (None: as the settings say)."""
    if standbys is None:
        cfg = Settings().classify
        standbys = cfg.standby_count if cfg.standby else 0
    rng = random.Random(seed)
    reports = []
    for name in size.scenarios:
        started = time.monotonic()
        if name == "classify-kills":
            report = classify_kills(
                kafka, postgres, model, size.headlines, size.classify_kills, rng, standbys
            )
        elif name == "ingest-kills":
            report = ingest_kills(
                kafka, postgres, model, size.ingest_headlines, size.ingest_kills, rng
            )
        elif name == "postgres-outage":
            report = postgres_outage(kafka, model, size.headlines, size.outage_s, rng)
        elif name == "alerts-delivery":
            report = alerts_delivery(postgres, NOTIFICATIONS, ALERTS_KILLS, rng)
        elif name == "broker-kill":
            report = broker_kill(postgres, model, size.headlines, size.outage_s, rng)
        else:
            raise ValueError(f"unknown scenario {name}")
        say(f"{name}: {time.monotonic() - started:.0f} s  {report.row()}")
        reports.append(report)
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--short", action="store_true", help="the quick form `make test` runs")
    form.add_argument("--long", action="store_true", help="the full form (default)")
    parser.add_argument("--model", type=Path, help="model directory (default: a tiny random one)")
    parser.add_argument("--scenario", action="append", help="run only these scenarios")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--standbys",
        type=int,
        help="classify-kills: warm standbys of the classify worker, 0 for none (default: "
        "as `tapewatch up`, TAPEWATCH_CLASSIFY__STANDBY and __STANDBY_COUNT)",
    )
    args = parser.parse_args()
    size = SHORT if args.short else LONG
    if args.scenario:
        size = SuiteSize(**{**size.__dict__, "scenarios": tuple(args.scenario)})
    model = args.model
    if model is None:
        from classify.model import new_model, save_model
        from tests.tiny_model import build_tiny_base

        base = build_tiny_base(scratch_dir("chaos-base-"))
        tiny, tokenizer = new_model(str(base), max_length=32, head_dropout=0.1)
        model = scratch_dir("chaos-model-")
        save_model(tiny, tokenizer, model)
    kafka = LocalKafka(data_dir=scratch_dir("chaos-kafka-"), cache_dir=Settings().cache_dir)
    postgres = LocalPostgres(data_dir=scratch_dir("chaos-pg-"), durable=False)
    kafka.start()
    postgres.start()
    try:
        reports = run_suite(kafka, postgres, model, size, seed=args.seed, standbys=args.standbys)
    finally:
        postgres.stop()
        kafka.stop()
    print(HEADER)
    for report in reports:
        print(report.row())
    sys.exit(0 if all(r.ok() for r in reports) else 1)


if __name__ == "__main__":
    main()
