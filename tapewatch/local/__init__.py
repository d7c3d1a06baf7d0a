"""Local, throwaway or persistent, instances of the real services: Apache Kafka and PostgreSQL.

Used by ``make run``/``tapewatch up`` and by the test suite, so both exercise the same code.
"""

from tapewatch.local.kafka import KafkaStartError, LocalKafka
from tapewatch.local.postgres import LocalPostgres, PostgresStartError, scratch_dir

__all__ = ["KafkaStartError", "LocalKafka", "LocalPostgres", "PostgresStartError", "scratch_dir"]
