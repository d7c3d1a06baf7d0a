"""`tapewatch up`: the stack, the workers as supervised child processes, the live view.

Start order: Kafka and PostgreSQL (local unless configured) with migrations and topics, then
the demo webhook receiver, the ingest, classify and alerts workers, and the demo feeder. Every
child gets its settings as TAPEWATCH_* variables derived from the one Settings object, writes
its log to ``<state_dir>/logs/<name>.log``, and carries a death signal, so no child outlives a
supervisor that was killed outright. A child that exits is restarted at once; only a tight crash
loop is backed off (tapewatch/restarts.py), and the supervisor says which and why. A worker
may have a warm standby (a child spec with ``standby_for``): when the worker exits, the
standby's process takes its place at once and a new standby is started. Ctrl-C,
SIGTERM or SIGHUP stop the workers first (SIGTERM, then SIGKILL after a grace period), then
Kafka and PostgreSQL; all data stays under the state directory for the next run.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO

import httpx
from rich.console import Console
from rich.table import Table

from tapewatch import worker_states
from tapewatch.demo.receiver import describe
from tapewatch.live_view import Collector, Snapshot, render, summary_line
from tapewatch.local.proc import child_setup, terminate
from tapewatch.restarts import CrashHistory, RestartDecision, SupervisorConfig
from tapewatch.settings import Settings

log = logging.getLogger(__name__)

STOP_GRACE_S = 30.0
REFRESH_S = 2.0
PLAIN_EVERY_S = 10.0
MODEL_MARKER = "tapewatch_config.json"


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    health_url: str | None = None  # its /healthz: probed, and a worker failing it is restarted
    # The warm standby of the child of this name: never probed (it serves nothing while it
    # waits); when that child exits, this one's process is promoted into it.
    standby_for: str | None = None
    # The lock file that makes a process this worker (a classify slot): whichever of the
    # worker's and its standbys' processes holds it is the worker, whatever the supervisor
    # believed (a standby that was warm first, two standbys woken in either order).
    slot_lock: Path | None = None


@dataclass
class Child:
    spec: ChildSpec
    log_path: Path
    history: CrashHistory
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    restart_at: float | None = None
    restart_reason: str = ""
    probe_failures: int = 0
    next_probe_at: float = 0.0
    kill_reason: str | None = None  # why the supervisor itself killed it, for the exit line
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.spec.argv,
            env=self.spec.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Own session: Ctrl-C reaches the supervisor only, which stops the workers in
            # order. SIGKILL as the death signal: a worker still shutting down when its
            # supervisor was killed outright must not linger (what it had acknowledged is
            # stored; the rest is redelivered to the next run).
            preexec_fn=child_setup(death_signal=signal.SIGKILL),
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        self.probe_failures = 0
        self.kill_reason = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def state(self, now: float) -> str:
        if self.proc is not None and self.proc.poll() is None:
            extra = f", {self.restarts} restart(s)" if self.restarts else ""
            if self.spec.standby_for is not None:
                return f"standby for {self.spec.standby_for} (pid {self.proc.pid}{extra})"
            return f"running (pid {self.proc.pid}{extra})"
        if self.restart_at is not None:
            return f"restarting in {max(0.0, self.restart_at - now):.0f} s ({self.restart_reason})"
        return "stopped"

    def snapshot(self, now: float) -> worker_states.WorkerState:
        running = self.proc is not None and self.proc.poll() is None
        state = "running" if running else "restarting" if self.restart_at else "stopped"
        return worker_states.WorkerState(
            name=self.spec.name,
            state=state,
            detail=self.state(now),
            pid=self.proc.pid if running else None,  # type: ignore[union-attr]
            restarts=self.restarts,
            uptime_s=round(now - self.started_at, 1) if running else None,
        )

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Supervisor:
    """Starts the children, restarts the ones that exit, stops them all."""

    def __init__(
        self,
        specs: list[ChildSpec],
        log_dir: Path,
        config: SupervisorConfig | None = None,
        states_path: Path | None = None,
    ) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.config = config or SupervisorConfig()
        # A standby writes to its worker's log: its process moves into that worker when
        # promoted, and one file then tells the whole story.
        self.children = [
            Child(spec, log_dir / f"{spec.standby_for or spec.name}.log", CrashHistory(self.config))
            for spec in specs
        ]
        self.stopping = False
        # Where the web dashboard reads the workers' states and restart counts (None: nowhere).
        self.states_path = states_path
        self._states_written = 0.0

    def start(self) -> None:
        for child in self.children:
            child.start()
            log.info("started %s (pid %d), log %s", child.spec.name, child.proc.pid, child.log_path)  # type: ignore[union-attr]

    def check(self) -> None:
        """Restart children that exited; call regularly from the main thread (the death signal
        is tied to the thread that forks)."""
        now = time.monotonic()
        for child in self.children:
            if self.stopping:
                return
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    child.start()
                    log.info("restarted %s (pid %d)", child.spec.name, child.proc.pid)  # type: ignore[union-attr]
                continue
            self._follow_slot(child, now)
            if child.proc is None or child.proc.poll() is None:
                continue
            cause = child.kill_reason or f"exited with code {child.proc.returncode}"
            decision = child.history.record_exit(now, now - child.started_at, cause)
            standby = self._standby_of(child)
            if standby is not None:
                self._promote(child, standby, now, decision)
                continue
            log.warning("%s %s (see %s)", child.spec.name, decision.reason, child.log_path)
            child.restart_at = now + decision.delay_s
            child.restart_reason = decision.reason.split("; ", 1)[-1]
            if decision.delay_s == 0:
                child.restarts += 1
                child.start()
                log.info("restarted %s (pid %d)", child.spec.name, child.proc.pid)  # type: ignore[union-attr]
        if not self.stopping:
            self._probe(now)
        self.publish_states()

    def _standbys(self, child: Child) -> list[Child]:
        return [c for c in self.children if c.spec.standby_for == child.spec.name and c.running()]

    def _standby_of(self, child: Child) -> Child | None:
        """The standby to promote into ``child``: the one holding the slot already (it took it
        the instant the worker died), else the one up longest (the likeliest to be warm)."""
        ready = self._standbys(child)
        holder = lock_holder(child.spec.slot_lock) if child.spec.slot_lock else None
        for standby in ready:
            if standby.proc is not None and standby.proc.pid == holder:
                return standby
        return min(ready, key=lambda c: c.started_at, default=None)

    def _follow_slot(self, child: Child, now: float) -> None:
        """Make ``child`` the process that holds its slot lock, if a standby's process does."""
        if child.spec.slot_lock is None or (child.proc is not None and not child.running()):
            return  # an exit is handled (and counted) by the caller
        holder = lock_holder(child.spec.slot_lock)
        if holder is None or (child.proc is not None and child.proc.pid == holder):
            return
        standby = next(
            (c for c in self._standbys(child) if c.proc is not None and c.proc.pid == holder),
            None,
        )
        if standby is None:
            return
        log.info(
            "%s: pid %d (a standby) holds its slot; it is the worker now%s",
            child.spec.name,
            holder,
            f", pid {child.proc.pid} a standby" if child.running() else "",
        )
        # Swapped, not restarted: the process the supervisor took for the worker is waiting.
        child.proc, standby.proc = standby.proc, child.proc
        child.started_at, standby.started_at = now, child.started_at
        child.restart_at = None
        child.probe_failures = 0
        child.next_probe_at = 0.0
        if standby.proc is None:
            standby.restart_at = now
            standby.restart_reason = "its process became the worker"

    def _promote(self, child: Child, standby: Child, now: float, decision: RestartDecision) -> None:
        """``child`` exited: its standby's process becomes ``child`` (it takes the slot lock by
        itself the moment the dead process released it); the standby spec starts a new one,
        at once or after the crash-loop back-off ``decision`` asks for."""
        what, _, when = decision.reason.partition("; ")
        promoted = standby.proc
        assert promoted is not None
        log.warning(
            "%s %s; its standby (pid %d) takes over; %s the new standby (see %s)",
            child.spec.name,
            what,
            promoted.pid,
            when.replace("restarting", "starting", 1),
            child.log_path,
        )
        child.proc = promoted
        child.started_at = now  # the liveness grace counts from the takeover
        child.restarts += 1
        child.restart_at = None
        child.probe_failures = 0
        child.next_probe_at = 0.0
        child.kill_reason = None
        standby.proc = None
        standby.restart_at = now + decision.delay_s
        standby.restart_reason = when
        if decision.delay_s == 0:
            standby.restarts += 1
            standby.start()
            log.info("started %s (pid %d)", standby.spec.name, standby.proc.pid)  # type: ignore[union-attr]

    def _probe(self, now: float) -> None:
        """Ask each running worker's /healthz; restart one that failed it too often in a row."""
        cfg = self.config
        for child in self.children:
            proc = child.proc
            if child.spec.health_url is None or proc is None or proc.poll() is not None:
                continue
            if now - child.started_at < cfg.liveness_grace_s or now < child.next_probe_at:
                continue
            child.next_probe_at = now + cfg.liveness_interval_s
            healthy, why = probe(child.spec.health_url)
            if healthy:
                child.probe_failures = 0
                continue
            child.probe_failures += 1
            if child.probe_failures < cfg.liveness_failures:
                continue
            log.warning(
                "%s failed its health check %d times in a row (%s); restarting it",
                child.spec.name,
                child.probe_failures,
                why,
            )
            child.kill_reason = f"killed as unhealthy ({why})"
            proc.kill()

    def status(self) -> list[tuple[str, str]]:
        now = time.monotonic()
        return [(c.spec.name, c.state(now)) for c in self.children]

    def publish_states(self, *, force: bool = False) -> None:
        """Write the workers' states for the dashboard, at most every WRITE_EVERY_S."""
        now = time.monotonic()
        if self.states_path is None or (
            not force and now - self._states_written < worker_states.WRITE_EVERY_S
        ):
            return
        self._states_written = now
        worker_states.write(self.states_path, [c.snapshot(now) for c in self.children])

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM every child at once, wait up to ``grace_s`` for each, then SIGKILL."""
        self.stopping = True
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            child.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + grace_s
        for child in running:
            assert child.proc is not None
            terminate(child.proc, sig=signal.SIGTERM, timeout=max(0.1, deadline - time.monotonic()))
            if child.proc.returncode not in (0, -signal.SIGTERM):
                log.info("%s stopped with code %s", child.spec.name, child.proc.returncode)
        for child in self.children:
            child.restart_at = None
            child.close_log()
        self.publish_states(force=True)  # every worker "stopped", until the file goes stale


def lock_holder(path: Path) -> int | None:
    """The pid holding an ``flock`` on ``path``, from /proc/locks (Linux); None when nobody
    holds it or it cannot be told."""
    try:
        stat = path.stat()
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE <pid> <maj:min:inode> 0 EOF"; waiters read "1: -> FLOCK".
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
            return int(fields[4])
    return None


def probe(url: str, timeout_s: float = 1.0) -> tuple[bool, str]:
    """(healthy, why not) from a worker's /healthz; no answer at all counts as unhealthy."""
    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return False, f"no answer: {type(exc).__name__}"
    if response.status_code == 200:
        return True, ""
    try:
        reasons = response.json().get("reasons") or []
    except ValueError:
        reasons = []
    return False, "; ".join(map(str, reasons)) or f"HTTP {response.status_code}"


@dataclass(frozen=True)
class UpOptions:
    """What `tapewatch up` runs; the defaults are `make run`'s."""

    demo: bool = True
    feeds: bool = True
    dashboard: bool | None = None  # None: when the output is a terminal
    receiver_port: int = 9120
    demo_rate: float = 20.0
    demo_burst_after_s: float = 60.0
    demo_backfill_minutes: float = 60.0
    started_at: float | None = None  # Unix time `make run` began, for time-to-first-headline


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


@dataclass
class Plan:
    specs: list[ChildSpec]
    notes: list[str]
    received_path: Path | None
    receiver_url: str | None
    web_url: str | None = None


def plan_children(
    settings: Settings, options: UpOptions, kafka_bootstrap: str, database_url: str
) -> Plan:
    """The child processes and their environments, from the settings and the options."""
    from tapewatch.demo.overrides import demo_env
    from tapewatch.demo.scenario import has_labelled_data

    base = dict(os.environ)
    base |= {
        "TAPEWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TAPEWATCH_DATABASE_URL": database_url,
        "TAPEWATCH_STATE_DIR": str(settings.state_dir),
        "PYTHONUNBUFFERED": "1",
    }
    notes: list[str] = []
    if not options.feeds:
        base["TAPEWATCH_INGEST__FEEDS"] = "[]"
    demo = options.demo
    if demo and not has_labelled_data(settings.data_dir):
        # A fresh clone: the demo replays a stream the project generates itself.
        notes.append(
            f"demo: generated headlines (no labelled data in {settings.data_dir}; "
            "set TAPEWATCH_DATA_DIR to replay it)"
        )
    if demo and not settings.ingest.push_enabled:
        notes.append("demo off: it needs the ingest push endpoint (TAPEWATCH_INGEST__PUSH_ENABLED)")
        demo = False
    specs: list[ChildSpec] = []
    received_path = receiver_url = None
    if demo:
        receiver_url = f"http://127.0.0.1:{options.receiver_port}/alerts"
        extra, _secret = demo_env(settings, os.environ, receiver_url)
        base |= extra
        received_path = settings.state_dir / "demo" / "alerts-received.jsonl"
        specs.append(
            ChildSpec(
                "receiver",
                _python(
                    "-m",
                    "tapewatch.demo.receiver",
                    "--port",
                    str(options.receiver_port),
                    "--out",
                    str(received_path),
                ),
                base,
            )
        )
    health = settings.health

    def healthz(port: int) -> str | None:
        return f"http://127.0.0.1:{port}/healthz" if port else None

    specs.append(
        ChildSpec(
            "ingest",
            _python("-m", "tapewatch.cli", "worker", "ingest"),
            base,
            healthz(health.ingest_port),
        )
    )
    if (settings.model_dir / MODEL_MARKER).is_file():
        from classify.slots import slot_dir, slot_path

        classify_argv = _python("-m", "tapewatch.cli", "worker", "classify")
        standbys, why = standbys_that_fit(settings, available_memory_mb())
        if why:
            notes.append(why)
        classify_env, slot_lock = base, None
        if standbys:
            # All wait on the same slot, so a standby is this worker's and nobody else's.
            slot = settings.classify.standby_slot()
            classify_env = base | {"TAPEWATCH_CLASSIFY__WORKER_SLOT": str(slot)}
            slot_lock = slot_path(slot_dir(settings.state_dir, settings.classify.group_id), slot)
        specs.append(
            # Slot 0 on this host: its health port is classify_port + 0.
            ChildSpec(
                "classify",
                classify_argv,
                classify_env,
                healthz(health.classify_port),
                slot_lock=slot_lock,
            )
        )
        for n in range(standbys):
            specs.append(
                ChildSpec(
                    "classify-standby" + (f"-{n + 1}" if n else ""),
                    [*classify_argv, "--standby"],
                    classify_env,
                    standby_for="classify",
                )
            )
    else:
        notes.append(
            f"classify off: no trained model in {settings.model_dir} "
            "(train one with `tapewatch train`, or set TAPEWATCH_MODEL_DIR)"
        )
    specs.append(
        ChildSpec(
            "alerts",
            _python("-m", "tapewatch.cli", "worker", "alerts"),
            base,
            healthz(health.alerts_port),
        )
    )
    # The web dashboard reads through the read-only role; its URL heads the banner.
    specs.append(ChildSpec("web", _python("-m", "tapewatch.cli", "web"), base))
    from web.config import url_of

    web_url = url_of(settings.web.host, settings.web.port)
    if demo:
        push_url = f"http://127.0.0.1:{settings.ingest.push_port}/headlines"
        classify_port = settings.classify.metrics_port
        lag_args = (
            ["--lag-url", f"http://127.0.0.1:{classify_port}/metrics"]
            if classify_port and any(s.name == "classify" for s in specs)
            else []
        )
        specs.append(
            ChildSpec(
                "demo",
                _python(
                    "-m",
                    "tapewatch.demo.feeder",
                    "--push-url",
                    push_url,
                    "--rate",
                    str(options.demo_rate),
                    "--burst-after",
                    str(options.demo_burst_after_s),
                    "--backfill-minutes",
                    str(options.demo_backfill_minutes),
                    *lag_args,
                ),
                base,
            )
        )
    return Plan(specs, notes, received_path, receiver_url, web_url)


def available_memory_mb() -> int | None:
    """MemAvailable from /proc/meminfo, in MB; None where there is no such file."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def standbys_that_fit(settings: Settings, available_mb: int | None) -> tuple[int, str]:
    """How many classify standbys `tapewatch up` runs, and a note for the terminal when it
    runs fewer than asked for."""
    cfg = settings.classify
    if not cfg.standby:
        return 0, ""
    if not cfg.static_membership:
        # Without a static id the standby joins as a new member and waits out the dead one's
        # session like any restart: the memory would buy little.
        return 0, "classify standby off: it needs static membership"
    if available_mb is None or cfg.standby_memory_mb == 0:
        return cfg.standby_count, ""  # nothing to tell: trust the setting
    # The worker itself needs as much again.
    fit = max(0, min(cfg.standby_count, available_mb // cfg.standby_memory_mb - 1))
    if fit == cfg.standby_count:
        return fit, ""
    return fit, (
        f"classify standbys: {fit} of {cfg.standby_count}: {available_mb} MB of memory "
        f"available, the worker and each standby need {cfg.standby_memory_mb} MB "
        "(TAPEWATCH_CLASSIFY__STANDBY_MEMORY_MB)"
    )


class Events:
    """Turns successive snapshots into one-off lines: first headline, alerts, feed trouble."""

    def __init__(self, started_at: float, say: Callable[[str], None]) -> None:
        self.started_at = started_at
        self.say = say
        self.first_seen = False
        self.received = 0
        self.failing: set[str] = set()

    def update(self, snap: Snapshot) -> None:
        if not self.first_seen and snap.first_classified_at is not None:
            self.first_seen = True
            after = snap.first_classified_at.timestamp() - self.started_at
            self.say(f"first classified headline {after:.1f} s after start")
        received = snap.received
        for record in received[self.received :]:
            self.say(f"alert received by the demo receiver: {describe(record.get('payload', {}))}")
        self.received = len(received)
        for feed in snap.feeds:
            if feed.failures and feed.source not in self.failing:
                self.failing.add(feed.source)
                retry = (
                    feed.next_poll_after.astimezone().strftime("%H:%M:%S")
                    if feed.next_poll_after
                    else "later"
                )
                self.say(
                    f"feed {feed.source} unreachable ({feed.status}); backing off quietly, "
                    f"next try {retry}"
                )
            elif not feed.failures and feed.source in self.failing:
                self.failing.discard(feed.source)
                self.say(f"feed {feed.source} is reachable again")


def _banner(settings: Settings, kafka: str, database_url: str, plan: Plan) -> Table:
    table = Table(title="Tapewatch is up", show_header=False)
    if plan.web_url:
        table.add_row("Web dashboard", f"{plan.web_url}  ← open this")
    table.add_row("Kafka bootstrap", kafka)
    table.add_row("PostgreSQL", database_url)
    table.add_row("psql", f"psql '{database_url.replace('+psycopg2', '')}'")
    table.add_row(
        "Topics", f"{settings.topic_raw}, {settings.topic_classified}, {settings.topic_dlq}"
    )
    table.add_row("Dashboard views", "v_headlines, v_topic_sentiment_5m")
    table.add_row("Workers", ", ".join(s.name for s in plan.specs))
    if plan.receiver_url:
        table.add_row("Demo alerts", plan.receiver_url.removesuffix("alerts"))
    table.add_row("Logs", str(settings.state_dir / "logs"))
    table.add_row("State", str(settings.state_dir))
    return table


def run_up(settings: Settings, options: UpOptions, console: Console) -> None:
    """Everything `tapewatch up` does, until SIGINT, SIGTERM or SIGHUP."""
    from sqlalchemy import create_engine

    from tapewatch.stack import start_stack

    started_at = options.started_at or time.time()
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # SIGHUP too: a closed terminal must stop everything cleanly, not kill us mid-shutdown.
    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, _on_signal) for sig in stop_signals}
    # Alembic announces its plugins at INFO; the terminal is for what the pipeline does.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    with console.status("starting Kafka and PostgreSQL, applying migrations…"):
        stack = start_stack(settings)
    supervisor: Supervisor | None = None
    collector: Collector | None = None
    try:
        plan = plan_children(settings, options, stack.kafka_bootstrap, stack.database_url)
        console.print(_banner(settings, stack.kafka_bootstrap, stack.database_url, plan))
        for note in plan.notes:
            console.print(f"[yellow]{note}[/]")
        console.print("Press Ctrl-C to stop.")
        supervisor = Supervisor(
            plan.specs,
            settings.state_dir / "logs",
            settings.supervisor,
            states_path=worker_states.path_in(settings.state_dir),
        )
        if not stop.is_set():
            supervisor.start()
        names = {s.name for s in plan.specs}
        collector = Collector(
            create_engine(stack.database_url, pool_size=1, pool_pre_ping=True),
            ingest_metrics_url=f"http://127.0.0.1:{settings.ingest.metrics_port}/metrics",
            classify_metrics_url=(
                f"http://127.0.0.1:{settings.classify.metrics_port}/metrics"
                if settings.classify.metrics_port and "classify" in names
                else None
            ),
            received_path=plan.received_path,
            started_at=datetime.fromtimestamp(started_at, UTC),
        )
        dashboard = console.is_terminal if options.dashboard is None else options.dashboard
        header = (
            f"Tapewatch · Kafka {stack.kafka_bootstrap} · "
            f"psql '{stack.database_url.replace('+psycopg2', '')}'"
            + (f" · alerts {plan.receiver_url.removesuffix('alerts')}" if plan.receiver_url else "")
            + " · Ctrl-C to stop"
        )
        if dashboard:
            _loop_live(supervisor, collector, stop, console, header, started_at)
        else:
            _loop_plain(supervisor, collector, stop, started_at)
    finally:
        with console.status("stopping workers, then Kafka and PostgreSQL…"):
            if supervisor is not None:
                supervisor.stop()
            if collector is not None:
                collector.close()
            stack.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        console.print("stopped; all data kept under", str(settings.state_dir))


def _loop_plain(
    supervisor: Supervisor,
    collector: Collector,
    stop: threading.Event,
    started_at: float,
) -> None:
    events = Events(started_at, log.info)
    last_refresh = last_line = 0.0
    while not stop.is_set():
        supervisor.check()
        now = time.monotonic()
        if now - last_refresh >= REFRESH_S:
            last_refresh = now
            snap = collector.collect()
            events.update(snap)
            if now - last_line >= PLAIN_EVERY_S:
                last_line = now
                log.info("%s", summary_line(snap))
        stop.wait(0.5)


def _loop_live(
    supervisor: Supervisor,
    collector: Collector,
    stop: threading.Event,
    console: Console,
    header: str,
    started_at: float,
) -> None:
    from rich.live import Live
    from rich.logging import RichHandler

    # Log lines print above the live view instead of tearing through it.
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = [RichHandler(console=console, show_path=False)]
    events = Events(started_at, log.info)
    try:
        with Live(console=console, refresh_per_second=2, transient=False) as live:
            last_refresh = 0.0
            while not stop.is_set():
                supervisor.check()
                now = time.monotonic()
                if now - last_refresh >= REFRESH_S:
                    last_refresh = now
                    snap = collector.collect()
                    snap.workers = supervisor.status()
                    events.update(snap)
                    uptime = time.strftime("%H:%M:%S", time.gmtime(time.time() - started_at))
                    live.update(render(snap, f"{header} · up {uptime}"))
                stop.wait(0.25)
    finally:
        root.handlers[:] = saved
