"""Run a local PostgreSQL cluster from the machine's server binaries (Debian's PostgreSQL 15).

The postmaster runs as our child process (not daemonised by ``pg_ctl``) so the kernel stops it
if we die. PostgreSQL refuses to run as root; when we are root it runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from tapewatch.local.proc import child_setup, free_port, port_open, terminate, wait_until

log = logging.getLogger(__name__)

SUPERUSER = "tapewatch"
DATABASE = "tapewatch"


class PostgresStartError(RuntimeError):
    """The local cluster could not be created or started; the message says what to do."""


def find_bindir() -> Path:
    """The newest installed PostgreSQL server ``bin`` directory."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for candidate in reversed(candidates):
        if (Path(candidate) / "postgres").exists():
            return Path(candidate)
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresStartError(
        "no PostgreSQL server binaries found; install them (Debian: apt-get install "
        "postgresql-15) or point TAPEWATCH_DATABASE_URL at an existing server."
    )


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresStartError(
            "running as root, and PostgreSQL refuses root; create a 'postgres' user "
            "(useradd --system postgres) or run as an ordinary user."
        ) from exc
    return "postgres"


def scratch_dir(prefix: str) -> Path:
    """A new temporary directory a cluster can live in, also when we are root.

    As root the server runs as 'postgres', which must be able to reach the directory, so it
    is made world-traversable (the default for temporary directories is owner-only).
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class LocalPostgres:
    """A PostgreSQL cluster in ``data_dir``, listening on 127.0.0.1:``port``.

    ``durable=False`` turns off fsync and friends: for throwaway test clusters only.
    """

    def __init__(self, *, data_dir: Path, port: int | None = None, durable: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.durable = durable
        self.bindir = find_bindir()
        self.user = _run_as()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "run"

    def url(self, database: str = DATABASE, user: str = SUPERUSER) -> str:
        return f"postgresql+psycopg2://{user}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = DATABASE, user: str = SUPERUSER) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={database} user={user}"

    def _own(self, *paths: Path) -> None:
        if self.user is None:
            return
        account = pwd.getpwnam(self.user)
        for path in paths:
            os.chown(path, account.pw_uid, account.pw_gid)

    def _check_reachable(self) -> None:
        if self.user is None:
            return
        probe = subprocess.run(
            ["test", "-w", str(self.data_dir)], preexec_fn=child_setup(user=self.user)
        )
        if probe.returncode != 0:
            raise PostgresStartError(
                f"PostgreSQL runs as user '{self.user}' (we are root) and cannot reach "
                f"{self.data_dir}: a parent directory is closed to other users. Set "
                "TAPEWATCH_STATE_DIR to a directory it can reach (e.g. under /var/tmp), or "
                "allow traversal with `chmod o+x` on the parent directories."
            )

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._own(self.data_dir, self.pgdata)
        self._check_reachable()
        cmd = [
            str(self.bindir / "initdb"),
            "-D",
            str(self.pgdata),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ]
        result = subprocess.run(
            cmd, capture_output=True, text=True, preexec_fn=child_setup(user=self.user)
        )
        if result.returncode != 0:
            raise PostgresStartError(
                f"initdb failed:\n{result.stdout[-1500:]}{result.stderr[-1500:]}"
            )

    def start(self, timeout: float = 60.0) -> str:
        """Create the cluster if new, start it, create the database; returns its SQLAlchemy URL."""
        if port_open(self.port):
            raise PostgresStartError(
                f"port {self.port} is already in use; stop what listens there or set "
                "TAPEWATCH_POSTGRES_PORT to another port."
            )
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self.socket_dir.mkdir(exist_ok=True)
        self._own(self.socket_dir)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "100",
            "shared_buffers": "128MB",
        }
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        cmd = [str(self.bindir / "postgres"), "-D", str(self.pgdata)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        started = time.monotonic()
        log_path = self.data_dir / "postgres.log"
        with log_path.open("ab") as out:
            self._own(log_path)
            # SIGINT is PostgreSQL's "fast shutdown": clean, and quick.
            self._proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=child_setup(user=self.user, death_signal=signal.SIGINT),
            )
        if not wait_until(self._accepting, timeout=timeout):
            self.stop()
            raise PostgresStartError(
                f"PostgreSQL did not start within {timeout:.0f}s; see {log_path}"
            )
        self._create_database()
        log.info("postgres ready on 127.0.0.1:%d in %.1fs", self.port, time.monotonic() - started)
        return self.url()

    def _accepting(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise PostgresStartError(
                f"PostgreSQL exited with code {self._proc.returncode}; see "
                f"{self.data_dir / 'postgres.log'}"
            )
        try:
            psycopg2.connect(self.dsn("postgres"), connect_timeout=2).close()
            return True
        except psycopg2.OperationalError:
            return False

    def _create_database(self) -> None:
        conn = psycopg2.connect(self.dsn("postgres"))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            conn.close()

    def stop(self, timeout: float = 30.0) -> None:
        if self._proc is None:
            return
        terminate(self._proc, sig=signal.SIGINT, timeout=timeout)
        self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
