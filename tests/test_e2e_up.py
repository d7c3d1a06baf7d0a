"""End to end: `tapewatch up` with the demo replay as the only source, the shipped model, the
real broker and PostgreSQL. Headlines reach the views, the scenario's burst fires an alert
that the local receiver gets, the web dashboard shows all of it in a real browser while the
pipeline runs, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
from kafka import KafkaProducer
from playwright.sync_api import sync_playwright

from tapewatch.demo.receiver import read_received
from tapewatch.local import scratch_dir
from tapewatch.local.proc import free_port
from tapewatch.settings import Settings
from tapewatch.supervisor import REFRESH_S
from tests.processes import descendants, survivors
from tests.test_web_browser import CHROMIUM, FLAGS, TIMEOUT_MS, _drawn, _shot, _until, _watch

BIN = Path(sys.executable).parent / "tapewatch"
ALERT_DEADLINE_S = 300


def test_up_demo_flows_into_views_fires_an_alert_and_stops_cleanly() -> None:
    model_dir = Settings().model_dir  # the shipped model: only it tells negative from not
    assert (model_dir / "tapewatch_config.json").is_file(), f"no trained model in {model_dir}"
    tmp_path = scratch_dir("tapewatch-e2e-")
    state = tmp_path / "state"
    pg_port, web_port, kafka_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWATCH_")}
    env |= {
        "TAPEWATCH_STATE_DIR": str(state),
        "TAPEWATCH_MODEL_DIR": str(model_dir),
        "TAPEWATCH_KAFKA_PORT": str(kafka_port),
        "TAPEWATCH_POSTGRES_PORT": str(pg_port),
        "TAPEWATCH_INGEST__METRICS_PORT": str(free_port()),
        "TAPEWATCH_INGEST__PUSH_PORT": str(free_port()),
        "TAPEWATCH_CLASSIFY__METRICS_PORT": str(free_port()),
        "TAPEWATCH_ALERTS__METRICS_PORT": str(free_port()),
        "TAPEWATCH_HEALTH__INGEST_PORT": str(free_port()),
        "TAPEWATCH_HEALTH__CLASSIFY_PORT": str(free_port()),
        "TAPEWATCH_HEALTH__ALERTS_PORT": str(free_port()),
        "TAPEWATCH_WEB__PORT": str(web_port),
        "TAPEWATCH_WEB__REFRESH_SECONDS": "1",
        "COLUMNS": "200",
    }
    command = [
        BIN,
        "up",
        "--no-feeds",
        "--no-dashboard",
        "--receiver-port",
        str(free_port()),
        "--demo-rate",
        "10",  # leaves this 2-core machine headroom; the feeder holds back on lag anyway
        "--demo-burst-after",
        "20",
        "--demo-backfill-minutes",
        "20",
    ]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def _drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)

    reader = threading.Thread(target=_drain, daemon=True)
    reader.start()
    received_path = state / "demo" / "alerts-received.jsonl"
    seen: set[int] = set()
    deadline = time.monotonic() + ALERT_DEADLINE_S
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            seen |= descendants(proc.pid)  # every process it ever ran, restarts included
            if any(r["payload"]["event"] == "firing" for r in read_received(received_path)):
                break
            time.sleep(2)
        time.sleep(REFRESH_S * 2)  # one more refresh of the supervisor's view to report it
        output = "".join(lines)
        received = read_received(received_path)
        assert any(r["payload"]["event"] == "firing" for r in received), output

        conn = psycopg2.connect(
            host="127.0.0.1", port=pg_port, user="tapewatch", dbname="tapewatch"
        )
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(*), count(topic) FROM v_headlines WHERE source = 'demo-replay'"
            )
            headlines, classified = cur.fetchone()
            cur.execute(
                "SELECT sum(headlines), sum(negative) FROM v_topic_sentiment_5m "
                "WHERE bucket >= now() - interval '10 minutes'"
            )
            recent, negative = cur.fetchone()
            cur.execute("SELECT topic FROM alerts WHERE fired_at IS NOT NULL")
            fired = {row[0] for row in cur.fetchall()}
        conn.close()
        assert headlines > 1000 and classified == headlines
        assert recent > 500 and negative > 0
        topic = received[0]["payload"]["alert"]["topic"]
        assert topic in fired
        # Something no classifier can read, straight onto the raw topic: it must be
        # dead-lettered, and the Pipeline page must say why.
        producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{kafka_port}")
        producer.send(Settings().topic_raw, b"<<not a headline>>")
        producer.flush()
        producer.close()
        _look_at_the_dashboard(f"http://127.0.0.1:{web_port}", topic, tmp_path / "screenshots")
    finally:
        seen |= descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=180)
        reader.join(timeout=10)
    output = "".join(lines)
    assert proc.returncode == 0, output[-3000:]
    assert "stopped; all data kept" in output
    assert "first classified headline" in output
    assert "alert received by the demo receiver: FIRING" in output
    assert survivors(seen, 15) == [], "processes left behind"


def _look_at_the_dashboard(base: str, topic: str, shots: Path) -> None:
    """What a newcomer sees at the banner's URL while the demo runs: every page with data from
    the live pipeline, the list growing by itself, the fired alert and its delivery."""
    shots.mkdir()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(shots.parent / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        errors, outside = _watch(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(f"{base}/")  # the banner's address: a 20-minute history opens on 1 h
            assert page.url == f"{base}/?range=1h"
            assert _drawn(page, "#share-chart") >= 20  # the backfilled 20 minutes and on
            assert _drawn(page, "#volume-chart") >= 20
            _until(page, "Number(document.querySelector('#heatmap').dataset.cells) > 20")
            _until(page, "document.querySelectorAll('#topics tbody tr').length >= 5")
            row = page.locator("#topics tbody tr", has_text=topic)
            assert row.locator(".state").first.inner_text() in ("firing", "resolved")
            _shot(page, shots, "overview")

            page.goto(f"{base}/alerts")
            _until(page, "document.querySelectorAll('#alerts tbody tr').length >= 1")
            _shot(page, shots, "alerts")
            page.locator("#alerts tbody tr", has_text=topic).locator("a").first.click()
            page.wait_for_url(f"{base}/alerts/*")
            assert _drawn(page, "#alert-chart") > 5
            _until(page, "document.querySelectorAll('#evidence-headlines li').length >= 1")
            # The demo receiver took the firing notification: its attempt is on the page.
            _until(page, "document.querySelectorAll('#deliveries tbody tr').length >= 1")
            assert "delivered" in page.inner_text("#deliveries")
            _shot(page, shots, "alert")

            page.goto(f"{base}/headlines")
            _until(page, "document.querySelectorAll('#headlines tbody tr').length >= 50")
            first = page.locator("#headlines tbody tr").first.get_attribute("data-id")
            # The demo keeps pushing: a newer headline arrives on top without a reload.
            _until(
                page,
                f"document.querySelector('#headlines tbody tr').dataset.id !== '{first}'",
                timeout_s=60,
            )
            _shot(page, shots, "headlines")

            page.goto(f"{base}/pipeline")
            _until(page, "document.querySelectorAll('#workers tbody tr').length >= 3")
            for worker in ("ingest", "classify", "alerts"):
                state = page.locator("#workers tbody tr", has_text=worker).locator(".state")
                assert state.first.inner_text() == "running", worker
            _until(page, "document.querySelectorAll('#models tbody tr').length >= 1")
            assert _drawn(page, "#classify-chart") >= 1
            # Under --no-feeds the table says why it is empty, and where feeds come from.
            assert "No feed polled yet" in page.inner_text("#feeds tbody")
            assert "TAPEWATCH_INGEST__FEEDS" in page.inner_text("#feeds tbody")
            dead = "document.querySelectorAll('#dlq tbody tr:not(.empty)').length >= 1"
            _until(page, dead, timeout_s=60)
            assert "1 in the topic" in page.inner_text("#dlq-count")
            assert "<<not a headline>>" in page.inner_text("#dlq tbody")
            _shot(page, shots, "pipeline")
        finally:
            context.close()
    assert errors == []
    assert outside == []
