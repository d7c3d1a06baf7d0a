"""Run the genuine Apache Kafka broker (KRaft, one combined broker + controller) on loopback.

The broker's jars come from Maven Central once (``mvn dependency:copy-dependencies`` over a small
pom shipped with this package) and are cached under ``cache_dir``. The same class serves the test
suite (throwaway log dir, free ports) and ``make run`` (persistent log dir under ``.tapewatch/``).
"""

from __future__ import annotations

import base64
import logging
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tapewatch.local.proc import child_setup, free_port, port_open, terminate, wait_until

log = logging.getLogger(__name__)

POM = Path(__file__).with_name("kafka-pom.xml")
_LOG4J = """\
rootLogger.level=WARN
rootLogger.appenderRef.file.ref=FILE
appender.file.type=File
appender.file.name=FILE
appender.file.fileName={log_file}
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.started.name=kafka.server.KafkaRaftServer
logger.started.level=INFO
"""


class KafkaStartError(RuntimeError):
    """The local broker could not be fetched, formatted or started; the message says what to do."""


def ensure_jars(version: str, cache_dir: Path) -> Path:
    """Return the directory holding the broker's jars, fetching them with Maven the first time."""
    libs = cache_dir / f"kafka-{version}" / "libs"
    if (libs / ".complete").exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaStartError("Maven (`mvn`) is needed once to fetch the Kafka jars; install it.")
    log.info("fetching Apache Kafka %s jars from Maven Central into %s (once)", version, libs)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="kafka-libs-", dir=cache_dir))
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not any(staging.glob(f"kafka_2.13-{version}.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        raise KafkaStartError(
            f"fetching Kafka {version} with Maven failed (exit {result.returncode}); "
            "check network access to Maven Central.\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    (staging / ".complete").touch()
    if libs.exists():
        shutil.rmtree(libs)
    libs.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(libs)  # atomic: a half-fetched directory is never taken for a complete one
    return libs


def cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding, as Kafka makes them.

    Like Kafka, never one that starts with '-': a command line would read it as an option.
    """
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


class LocalKafka:
    """A single-node KRaft Kafka broker as a child process.

    >>> with LocalKafka(data_dir=tmp, cache_dir=cache) as kafka:
    ...     producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        cache_dir: Path,
        version: str = "4.0.2",
        port: int | None = None,
        heap: str = "512m",
        default_partitions: int = 1,
    ) -> None:
        self.data_dir = data_dir
        self.cache_dir = cache_dir
        self.version = version
        self.port = port or free_port()
        self.controller_port = free_port()
        self.heap = heap
        self.default_partitions = default_partitions
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def _write_config(self) -> Path:
        logs = self.data_dir / "logs"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(logs),
            "num.partitions": str(self.default_partitions),
            # One node: internal topics cannot be replicated.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            # Consumers in tests and the demo should not wait 3 s for a first rebalance.
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
        }
        config = self.data_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J.format(log_file=self.log_file))
        return config

    def _java(self, libs: Path, *args: str, heap: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise KafkaStartError("Java 17+ is needed to run the Kafka broker; install a JDK.")
        return [
            java,
            f"-Xmx{heap}",
            "-Xms64m",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            "-cp",
            f"{libs}/*",
            *args,
        ]

    def start(self, timeout: float = 90.0) -> str:
        """Format storage if new, start the broker and wait until it serves metadata."""
        libs = ensure_jars(self.version, self.cache_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for port in (self.port, self.controller_port):
            if port_open(port):
                raise KafkaStartError(
                    f"port {port} is already in use; stop what listens there or set "
                    "TAPEWATCH_KAFKA_PORT to another port."
                )
        config = self._write_config()
        if not (self.data_dir / "logs" / "meta.properties").exists():
            # A static voter set (controller.quorum.voters) needs no --standalone flag.
            fmt = self._java(
                libs,
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id()}",
                "--config",
                str(config),
                heap="256m",
            )
            result = subprocess.run(fmt, capture_output=True, text=True)
            if result.returncode != 0:
                raise KafkaStartError(f"formatting Kafka storage failed:\n{result.stderr[-2000:]}")
        started = time.monotonic()
        out = (self.data_dir / "stdout.log").open("ab")
        self._proc = subprocess.Popen(
            self._java(libs, "kafka.Kafka", str(config), heap=self.heap),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=child_setup(death_signal=signal.SIGTERM),
        )
        out.close()
        if not wait_until(self._ready, timeout=timeout, interval=0.25):
            self.stop()
            raise KafkaStartError(
                f"Kafka did not become ready within {timeout:.0f}s; see {self.log_file} and "
                f"{self.data_dir / 'stdout.log'}"
            )
        log.info(
            "kafka %s ready on %s in %.1fs",
            self.version,
            self.bootstrap,
            time.monotonic() - started,
        )
        return self.bootstrap

    def _ready(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise KafkaStartError(
                f"Kafka exited with code {self._proc.returncode} while starting; see "
                f"{self.data_dir / 'stdout.log'} and {self.log_file}"
            )
        if not port_open(self.port):
            return False
        return self.log_file.exists() and "started" in self.log_file.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> None:
        """Controlled shutdown (SIGTERM), then SIGKILL if it hangs."""
        if self._proc is None:
            return
        terminate(self._proc, sig=signal.SIGTERM, timeout=timeout)
        self._proc = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
