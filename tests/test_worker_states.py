"""Worker states from the supervisor to the Pipeline page: the supervisor writes its children's
states and restart counts to the state directory, the dashboard's API joins them with what the
workers' metrics endpoints say, and a file left by a supervisor that is gone is ignored."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tapewatch import worker_states
from tapewatch.restarts import SupervisorConfig
from tapewatch.supervisor import ChildSpec, Supervisor
from tests.web_server import get, serve
from web.config import WebConfig
from web.context import WebContext
from web.db import readonly_url
from web.workers import workers

CONFIG = SupervisorConfig(
    free_restarts=2, crash_window_s=60, backoff_initial_s=30, backoff_max_s=30
)


def _run(supervisor: Supervisor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        supervisor.check()
        time.sleep(0.05)


def test_the_supervisor_writes_states_and_restart_counts(tmp_path: Path) -> None:
    path = worker_states.path_in(tmp_path)
    crasher = ChildSpec("crasher", [sys.executable, "-c", "raise SystemExit(3)"], {})
    sleeper = ChildSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {})
    supervisor = Supervisor([crasher, sleeper], tmp_path / "logs", CONFIG, states_path=path)
    supervisor.start()
    try:
        _run(supervisor, 3.0)  # two free restarts, then a 30 s back-off
        states = {w["name"]: w for w in worker_states.read(path) or []}
        assert states["sleeper"]["state"] == "running"
        assert states["sleeper"]["restarts"] == 0 and states["sleeper"]["pid"] > 0
        assert states["crasher"]["state"] == "restarting"
        assert states["crasher"]["restarts"] == 2
        assert "crash loop" in states["crasher"]["detail"]
    finally:
        supervisor.stop(grace_s=5)
    assert {w["state"] for w in worker_states.read(path) or []} == {"stopped"}


def test_a_stale_or_broken_file_is_no_supervisor(tmp_path: Path) -> None:
    path = worker_states.path_in(tmp_path)
    assert worker_states.read(path) is None
    state = worker_states.WorkerState("ingest", "running", "running (pid 1)", 1, 0, 5.0)
    worker_states.write(path, [state], now=time.time() - worker_states.STALE_S - 1)
    assert worker_states.read(path) is None
    path.write_text("{not json")
    assert worker_states.read(path) is None
    worker_states.write(path, [state])
    assert worker_states.read(path) == [json.loads(json.dumps(state.__dict__))]


def test_supervised_states_win_and_unsupervised_endpoints_stay(tmp_path: Path) -> None:
    watched = [
        {"name": "ingest", "state": "down", "metrics_url": "http://x/metrics", "uptime_s": None},
        {"name": "alerts", "state": "up", "metrics_url": "http://y/metrics", "uptime_s": 9.0},
    ]
    assert [w["restarts"] for w in workers(watched, None)] == [None, None]
    path = worker_states.path_in(tmp_path)
    worker_states.write(
        path,
        [
            worker_states.WorkerState("ingest", "restarting", "restarting in 4 s", None, 5, None),
            worker_states.WorkerState("web", "running", "running (pid 7)", 7, 0, 3.0),
        ],
    )
    rows = {w["name"]: w for w in workers(watched, path)}
    assert rows["ingest"]["state"] == "restarting" and rows["ingest"]["restarts"] == 5
    assert rows["ingest"]["metrics"] == "down"
    assert rows["web"]["supervised"] and rows["web"]["metrics_url"] is None
    assert rows["alerts"]["state"] == "up" and not rows["alerts"]["supervised"]


def test_the_pipeline_api_reports_the_supervisors_workers(
    database_url: str, tmp_path: Path
) -> None:
    path = worker_states.path_in(tmp_path)
    worker_states.write(
        path,
        [
            worker_states.WorkerState(
                "classify", "running", "running (pid 42, 3 restart(s))", 42, 3, 12.0
            )
        ],
    )
    config = WebConfig()
    ctx = WebContext(
        config=config,
        database_url=readonly_url(config, database_url),
        metrics={"classify": "http://127.0.0.1:9/metrics"},
        states_path=path,
    )
    with serve(ctx) as base:
        answer = get(base, "/api/v1/pipeline").json()
    (classify,) = [w for w in answer["workers"] if w["name"] == "classify"]
    assert classify["state"] == "running" and classify["restarts"] == 3
    assert classify["detail"] == "running (pid 42, 3 restart(s))"
