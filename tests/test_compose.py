"""docker-compose.yml is valid and wires every service to Kafka and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_is_valid() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is missing: run `make test`, which installs it")
    result = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert {"kafka", "postgres", "migrate", "ingest", "classify", "alerts"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    for worker in ("ingest", "classify", "alerts"):
        env = services[worker]["environment"]
        assert env["TAPEWATCH_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["TAPEWATCH_DATABASE_URL"].startswith("postgresql+psycopg2://")
        assert "migrate" in services[worker]["depends_on"]
