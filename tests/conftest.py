"""Shared fixtures: one real Kafka broker and one real PostgreSQL cluster per test session.

Each test that needs the database gets a fresh, migrated database of its own in that cluster;
each test that needs Kafka topics gets uniquely named ones. Nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from tapewatch.local import LocalKafka, LocalPostgres, scratch_dir
from tapewatch.settings import Settings

# The installed `tapewatch` command, as a user runs it.
BIN = Path(sys.executable).parent / "tapewatch"


def cli_env(**extra: str) -> dict[str, str]:
    """This process's environment without TAPEWATCH_* settings (tests pass their own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWATCH_")}
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved classifier on the tiny random BERT: loads fast, predicts nonsense."""
    # Imported here: torch would otherwise load for every test session, Kafka-only ones too.
    from classify.model import new_model, save_model
    from tests.tiny_model import build_tiny_base

    base = build_tiny_base(tmp_path_factory.mktemp("base"))
    model, tokenizer = new_model(str(base), max_length=32, head_dropout=0.1)
    out = tmp_path_factory.mktemp("model")
    save_model(model, tokenizer, out)
    return out


@pytest.fixture(scope="session")
def toy_task(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny base encoder and the toy data set laid out like the real data directory."""
    from tests.tiny_model import build_tiny_base, write_toy_data

    base = build_tiny_base(tmp_path_factory.mktemp("toy-base"))
    return base, write_toy_data(tmp_path_factory.mktemp("toy-data"))


@pytest.fixture(scope="session")
def second_tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny random classifier (other head weights, so another version): the "new
    model" of the model-lifecycle tests."""
    import torch

    from classify.model import new_model, save_model
    from tests.tiny_model import build_tiny_base

    base = build_tiny_base(tmp_path_factory.mktemp("base2"))
    torch.manual_seed(1)
    model, tokenizer = new_model(str(base), max_length=32, head_dropout=0.1)
    out = tmp_path_factory.mktemp("model2")
    save_model(model, tokenizer, out)
    return out


@pytest.fixture(scope="session")
def kafka() -> Iterator[LocalKafka]:
    workdir = scratch_dir("tapewatch-kafka-")
    broker = LocalKafka(
        data_dir=workdir,
        cache_dir=Path(os.environ.get("TAPEWATCH_CACHE_DIR", Path.home() / ".cache" / "tapewatch")),
        version=Settings().kafka_version,
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    workdir = scratch_dir("tapewatch-pg-")
    cluster = LocalPostgres(data_dir=workdir, durable=False)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def empty_database_url(postgres: LocalPostgres) -> Iterator[str]:
    """A fresh, empty database (no migrations applied)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(postgres.dsn("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    yield postgres.url(name)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A fresh database migrated to the newest revision."""
    from storage.migrate import upgrade

    upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def topic_name() -> str:
    return f"test.{uuid.uuid4().hex[:10]}"
