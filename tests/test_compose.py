"""docker-compose.yml is valid and wires every service to Kafka and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
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


def test_every_worker_is_health_checked_on_its_configured_port() -> None:
    from tapewatch.health import HealthConfig

    services = _config()["services"]
    ports = HealthConfig()
    for worker, port in (
        ("ingest", ports.ingest_port),
        ("classify", ports.classify_port),
        ("alerts", ports.alerts_port),
    ):
        check = services[worker]["healthcheck"]
        assert f"http://127.0.0.1:{port}/healthz" in " ".join(check["test"])
        assert check["retries"] >= 1


def _config() -> dict:  # type: ignore[type-arg]
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
    return yaml.safe_load(result.stdout)


def _host_ip(port: str | dict) -> str:  # type: ignore[type-arg]
    # docker-compose v1 prints the short syntax ("127.0.0.1:8000:8000/tcp"), v2 the long one.
    return port["host_ip"] if isinstance(port, dict) else port.split(":")[0]


def _bind(volume: str | dict) -> tuple[str, Path | None]:  # type: ignore[type-arg]
    if isinstance(volume, dict):
        return volume["target"], Path(volume["source"]) if volume["type"] == "bind" else None
    source, target = volume.split(":")[:2]
    return target, Path(source) if source.startswith("/") else None


def test_compose_serves_the_dashboard_and_a_provisioned_grafana() -> None:
    services = _config()["services"]
    web, grafana = services["web"], services["grafana"]
    assert web["command"] == ["web"]
    assert "migrate" in web["depends_on"]
    # Published on the host's loopback only, and the secrets are passed through, not written.
    assert [_host_ip(p) for p in web["ports"]] == ["127.0.0.1"]
    assert [_host_ip(p) for p in grafana["ports"]] == ["127.0.0.1"]
    for env in (web["environment"], grafana["environment"], services["migrate"]["environment"]):
        assert env["TAPEWATCH_WEB__READONLY_PASSWORD"] is None
    assert web["environment"]["TAPEWATCH_WEB__TOKEN"] is None
    for env in (web["environment"], services["migrate"]["environment"]):
        assert env["TAPEWATCH_WEB__FEEDBACK_PASSWORD"] is None
    image, _, tag = grafana["image"].partition(":")
    assert image.startswith("grafana/") and tag[:1].isdigit()  # a pinned release, not latest
    mounts = dict(_bind(v) for v in grafana["volumes"])
    assert mounts["/etc/grafana/provisioning"] == ROOT / "grafana" / "provisioning"
    assert mounts["/var/lib/grafana/dashboards"] == ROOT / "grafana" / "dashboards"


def test_the_image_holds_every_package_and_the_dashboard_assets() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in packages:
        name = pattern.rstrip("*")
        assert f"COPY {name} ./{name}" in dockerfile, f"the image lacks the {name} package"
    assert "npm ci" in dockerfile and "package-lock.json" in dockerfile
    assert "TAPEWATCH_WEB__ASSETS_DIR=/app/node_modules" in dockerfile
