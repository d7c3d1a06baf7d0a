"""Create the pipeline's Kafka topics with the configured partition count (idempotent)."""

from __future__ import annotations

import contextlib
import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from tapewatch.settings import Settings

log = logging.getLogger(__name__)


def ensure_topics(bootstrap: str, settings: Settings) -> list[str]:
    """Create ``headlines.raw``, ``headlines.classified`` and ``headlines.dlq`` if missing."""
    wanted = [settings.topic_raw, settings.topic_classified, settings.topic_dlq]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="tapewatch-admin")
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=1)
            for name in wanted
            if name not in existing
        ]
        if missing:
            # Another process may win the race to create them; that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
            log.info("created topics %s", [t.name for t in missing])
        return [t.name for t in missing]
    finally:
        admin.close()
