"""The `tapewatch` command as a user runs it: migrations, and `up` bringing the stack up and
down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tapewatch.local.proc import free_port
from tests.conftest import shared_tmp

BIN = Path(sys.executable).parent / "tapewatch"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWATCH_")}
    env.update(extra)
    return env


def test_db_upgrade_and_current(empty_database_url: str) -> None:
    env = _env(TAPEWATCH_DATABASE_URL=empty_database_url)
    up = subprocess.run([BIN, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    cur = subprocess.run([BIN, "db", "current"], env=env, capture_output=True, text=True)
    assert cur.stdout.strip() == "0002"
    down = subprocess.run([BIN, "db", "downgrade", "base"], env=env, capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    cur = subprocess.run([BIN, "db", "current"], env=env, capture_output=True, text=True)
    assert cur.stdout.strip() == "(empty database)"


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found |= {int(entry.name)} | _children(int(entry.name))
    return found


def test_up_starts_services_says_where_and_stops_cleanly() -> None:
    tmp_path = shared_tmp("tapewatch-up-")
    kafka_port, pg_port = free_port(), free_port()
    env = _env(
        TAPEWATCH_STATE_DIR=str(tmp_path / "state"),
        TAPEWATCH_KAFKA_PORT=str(kafka_port),
        TAPEWATCH_POSTGRES_PORT=str(pg_port),
        COLUMNS="200",
    )
    proc = subprocess.Popen([BIN, "up"], env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    output = ""
    deadline = time.monotonic() + 120
    while "Press Ctrl-C" not in output and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        output += line
    assert "Press Ctrl-C" in output, output
    assert f"127.0.0.1:{kafka_port}" in output
    assert f"127.0.0.1:{pg_port}" in output
    assert "v_topic_sentiment_5m" in output
    children = _children(proc.pid)
    assert len(children) >= 2  # the broker JVM and the postmaster (with its workers)

    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=90)
    assert proc.returncode == 0, rest
    assert "stopped; all data kept" in output + rest
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert alive == [], f"processes left behind: {alive}"
    # Data persisted for the next run.
    assert (tmp_path / "state" / "postgres" / "pgdata" / "PG_VERSION").exists()
    assert (tmp_path / "state" / "kafka" / "logs" / "meta.properties").exists()
