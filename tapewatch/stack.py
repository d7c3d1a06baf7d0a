"""Bring up what the pipeline stands on: Kafka, PostgreSQL (local unless configured), schema,
topics."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, field

from tapewatch.local import LocalKafka, LocalPostgres
from tapewatch.settings import Settings
from tapewatch.topics import ensure_topics

log = logging.getLogger(__name__)


@dataclass
class Stack:
    kafka_bootstrap: str
    database_url: str
    kafka: LocalKafka | None = None
    postgres: LocalPostgres | None = None
    _cleanup: ExitStack = field(default_factory=ExitStack, repr=False)

    def close(self) -> None:
        """Stop the local services we started (Kafka first: nothing should write after it)."""
        self._cleanup.close()


def start_stack(settings: Settings) -> Stack:
    from storage import upgrade  # imported here: the CLI should start fast for other commands

    cleanup = ExitStack()
    try:
        kafka = postgres = None
        if settings.database_url is None:
            postgres = LocalPostgres(
                data_dir=settings.postgres_runtime_dir, port=settings.postgres_port
            )
            cleanup.callback(postgres.stop)
            database_url = postgres.start()
        else:
            database_url = settings.database_url.get_secret_value()
        if settings.kafka_bootstrap is None:
            kafka = LocalKafka(
                data_dir=settings.kafka_runtime_dir,
                cache_dir=settings.cache_dir,
                version=settings.kafka_version,
                port=settings.kafka_port,
                heap=settings.kafka_heap,
                default_partitions=settings.topic_partitions,
            )
            cleanup.callback(kafka.stop)
            bootstrap = kafka.start()
        else:
            bootstrap = settings.kafka_bootstrap
        upgrade(database_url)
        ensure_topics(bootstrap, settings)
    except BaseException:
        cleanup.close()
        raise
    return Stack(bootstrap, database_url, kafka, postgres, cleanup)
