"""The `tapewatch` command as a user runs it: migrations, and `up` bringing the stack up and
down."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from storage.migrate import alembic_config
from tapewatch.local import scratch_dir
from tapewatch.local.proc import free_port
from tests.conftest import BIN, cli_env
from tests.processes import descendants, survivors
from tests.tiny_model import build_tiny_base, write_toy_data


def test_db_upgrade_and_current(empty_database_url: str) -> None:
    env = cli_env(TAPEWATCH_DATABASE_URL=empty_database_url)
    up = subprocess.run([BIN, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    cur = subprocess.run([BIN, "db", "current"], env=env, capture_output=True, text=True)
    # The newest revision in storage/migrations, one line of history with no branches.
    scripts = ScriptDirectory.from_config(alembic_config(empty_database_url))
    assert scripts.get_heads() == [scripts.get_current_head()]
    assert (
        cur.stdout.strip()
        == scripts.get_current_head()
        == f"{len(list(scripts.walk_revisions())):04d}"
    )
    down = subprocess.run([BIN, "db", "downgrade", "base"], env=env, capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    cur = subprocess.run([BIN, "db", "current"], env=env, capture_output=True, text=True)
    assert cur.stdout.strip() == "(empty database)"


def _read_until(
    proc: subprocess.Popen[str], marker: str, output: list[str], timeout: float
) -> bool:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            return False
        output.append(line)
        if marker in line:
            return True
    return False


def _web_answers(port: int, timeout: float) -> bool:
    """True once the web worker answers its overview API (it reads the read-only views)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/overview", timeout=5).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(1)
    return False


def test_up_starts_services_and_workers_restarts_a_crash_and_stops_cleanly(
    tiny_model_dir: Path,
) -> None:
    tmp_path = scratch_dir("tapewatch-up-")
    kafka_port, pg_port, web_port = free_port(), free_port(), free_port()
    env = cli_env(
        TAPEWATCH_STATE_DIR=str(tmp_path / "state"),
        TAPEWATCH_KAFKA_PORT=str(kafka_port),
        TAPEWATCH_POSTGRES_PORT=str(pg_port),
        TAPEWATCH_MODEL_DIR=str(tiny_model_dir),
        TAPEWATCH_INGEST__METRICS_PORT=str(free_port()),
        TAPEWATCH_INGEST__PUSH_PORT=str(free_port()),
        TAPEWATCH_CLASSIFY__METRICS_PORT=str(free_port()),
        TAPEWATCH_ALERTS__METRICS_PORT=str(free_port()),
        TAPEWATCH_HEALTH__INGEST_PORT=str(free_port()),
        TAPEWATCH_HEALTH__CLASSIFY_PORT=str(free_port()),
        TAPEWATCH_HEALTH__ALERTS_PORT=str(free_port()),
        TAPEWATCH_WEB__PORT=str(web_port),
        COLUMNS="200",
    )
    proc = subprocess.Popen(
        [BIN, "up", "--no-demo", "--no-feeds", "--no-dashboard"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    output: list[str] = []
    assert _read_until(proc, "started alerts", output, 120), "".join(output)
    text = "".join(output)
    assert "Press Ctrl-C" in text
    assert f"127.0.0.1:{kafka_port}" in text
    assert f"127.0.0.1:{pg_port}" in text
    assert "v_topic_sentiment_5m" in text
    assert "started ingest" in text and "started classify" in text
    assert f"http://127.0.0.1:{web_port}/" in text  # the banner's web dashboard line
    assert _web_answers(web_port, 90), "".join(output)  # the dashboard worker serves
    children = descendants(proc.pid)
    assert len(children) >= 5  # broker JVM, postmaster (and its workers), the three workers

    alerts_pid = int(text.split("started alerts (pid ")[1].split(")")[0])
    os.kill(alerts_pid, signal.SIGKILL)
    assert _read_until(proc, "restarted alerts", output, 60), "".join(output)
    # A single crash is restarted at once, and the supervisor says so.
    assert "alerts exited with code -9 after" in "".join(output)
    assert "restarting at once" in "".join(output)
    children |= descendants(proc.pid)

    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 0, rest
    assert "stopped; all data kept" in rest
    assert survivors(children, 15) == [], "processes left behind"
    # Data persisted for the next run.
    assert (tmp_path / "state" / "postgres" / "pgdata" / "PG_VERSION").exists()
    assert (tmp_path / "state" / "kafka" / "logs" / "meta.properties").exists()
    assert (tmp_path / "state" / "logs" / "classify.log").exists()


@pytest.mark.parametrize(
    ("command", "says"),
    [("correct-priors", "prior correction already"), ("calibrate", "temperature-scaled already")],
)
def test_post_hoc_steps_refuse_the_shipped_model_which_has_both_and_say_why(
    tmp_path: Path, command: str, says: str
) -> None:
    """The shipped model is prior-corrected and calibrated: doing either again would shift or
    flatten it twice."""
    shipped = Path(__file__).resolve().parents[1] / "models" / "tapewatch-minilm"
    run = subprocess.run(
        [BIN, command, "--model-dir", shipped, "--output-dir", tmp_path / "again"],
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2, run.stderr
    assert says in " ".join(run.stderr.split())  # rich wraps lines
    assert not (tmp_path / "again").exists()


def test_average_of_one_model_is_refused_and_says_what_to_name(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[1] / "models" / "tapewatch-minilm"
    run = subprocess.run(
        [BIN, "average", shipped, "--output-dir", tmp_path / "avg"],
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2, run.stderr
    assert "two or more model directories" in " ".join(run.stderr.split())
    assert not (tmp_path / "avg").exists()


def test_train_stops_cleanly_on_sigterm_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    """A service manager's SIGTERM mid-run: exit 130 with a checkpoint and the command that
    continues it; that command finishes the run."""
    base = build_tiny_base(tmp_path / "base")
    data = write_toy_data(tmp_path / "data")
    out = tmp_path / "model"
    args = [
        BIN, "train", "--base-model", base, "--data-dir", data, "--output-dir", out,
        "--epochs", "20", "--patience", "20", "--batch-size", "8", "--max-length", "16",
        "--threads", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(args, env=cli_env(), stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # the handler is installed before this line is logged
        seen.append(line)
        if "held out for early stopping" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.communicate(timeout=300)[1]
    message = " ".join((" ".join(seen) + rest).split())
    assert proc.returncode == 143, message  # 128 + SIGTERM, as a shell reports it
    assert (out / "resume" / "checkpoint.pt").exists()
    assert "Continue with: tapewatch train" in message and "--resume" in message

    again = subprocess.run([*args, "--resume"], env=cli_env(), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert not (out / "resume").exists()
    record = json.loads((out / "training.json").read_text())
    stopped_at = int(re.search(r"stopped at step (\d+)/", message).group(1))  # type: ignore[union-attr]
    assert record["resumed_at_steps"] == [stopped_at]
    assert record["steps"] > stopped_at
    # The record's command reproduces the whole run from scratch: the resumed run's own
    # arguments without --resume.
    assert record["command"] == shlex.join(["tapewatch", *map(str, args[1:])])


@pytest.mark.parametrize(
    "args",
    [["eval", "--model-dir", "{missing}"], ["compare", "{missing}"], ["classify"]],
    ids=["eval", "compare", "classify"],
)
def test_a_missing_model_directory_is_a_clear_error_not_a_traceback(
    tmp_path: Path, args: list[str]
) -> None:
    missing = str(tmp_path / "no-model")
    run = subprocess.run(
        [BIN, *(a.format(missing=missing) for a in args)],
        env=cli_env(TAPEWATCH_MODEL_DIR=missing),
        input="Fed raises rates\n",
        capture_output=True,
        text=True,
    )
    said = " ".join(run.stderr.split())
    assert run.returncode == 2, said
    assert "is not a Tapewatch model directory" in said and "tapewatch train" in said
    assert "Traceback" not in said


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--base-model", "{tmp}/no-such-base"], "neither a directory nor an installed package"),
        (["--layers", "0"], "layer counts must be positive"),
    ],
    ids=["missing-base", "no-layers"],
)
def test_train_refuses_impossible_settings_in_one_line(
    tmp_path: Path, extra: list[str], says: str
) -> None:
    base = build_tiny_base(tmp_path / "base")
    data = write_toy_data(tmp_path / "data")
    args = ["--base-model", str(base), *(a.format(tmp=tmp_path) for a in extra)]
    run = subprocess.run(
        [BIN, "train", *args, "--data-dir", data, "--output-dir", tmp_path / "m", "--threads", "1"],
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    said = " ".join(run.stderr.split())
    assert run.returncode == 2, said
    assert says in said and "Traceback" not in said
    assert "0/None" not in said, "an empty progress bar was drawn under the error"
    assert not (tmp_path / "m" / "model.safetensors").exists()
