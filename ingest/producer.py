"""Publishing headlines to Kafka with kafka-python: idempotent, acks=all, keyed by headline id.

:meth:`HeadlinePublisher.publish` returns only when the broker confirmed every headline, or
raises :class:`PublishError` naming how many were not confirmed after the configured rounds of
re-sending; unconfirmed headlines are never reported as delivered (so never marked as seen).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from ingest.config import IngestConfig
from ingest.errors import PublishError
from tapewatch.events import Headline

log = logging.getLogger(__name__)


class HeadlinePublisher:
    def __init__(self, bootstrap: str, topic: str, config: IngestConfig, **overrides: Any) -> None:
        """``overrides`` are extra KafkaProducer settings (benchmarks, tests)."""
        self.topic = topic
        self.config = config
        settings: dict[str, Any] = dict(
            bootstrap_servers=bootstrap,
            client_id="tapewatch-ingest",
            # Idempotence + acks=all: broker-side retries never duplicate or reorder a partition.
            enable_idempotence=True,
            acks="all",
            retries=2**31 - 1,
            max_in_flight_requests_per_connection=5,
            compression_type=None if config.compression == "none" else config.compression,
            linger_ms=config.linger_ms,
            batch_size=256 * 1024,
            delivery_timeout_ms=int(config.delivery_timeout_s * 1000),
            request_timeout_ms=min(30_000, int(config.delivery_timeout_s * 1000) - 1),
            max_block_ms=int(config.delivery_timeout_s * 1000),
        )
        self._producer = KafkaProducer(**(settings | overrides))

    def publish(self, headlines: Sequence[Headline]) -> None:
        """Send all, wait for the broker's confirmation of each; re-send the unconfirmed."""
        pending = list(headlines)
        last_error: BaseException | None = None
        for attempt in range(1, self.config.publish_attempts + 1):
            if not pending:
                return
            futures = []
            for headline in pending:
                try:
                    future = self._producer.send(
                        self.topic, key=headline.id.encode("ascii"), value=headline.to_json()
                    )
                except KafkaError as exc:  # buffer full for max_block_ms, metadata unavailable
                    last_error = exc
                    future = None
                futures.append((headline, future))
            try:
                self._producer.flush(timeout=self.config.delivery_timeout_s)
            except KafkaError as exc:  # flush timed out; the futures below say which failed
                last_error = exc
            failed = []
            deadline = time.monotonic() + self.config.delivery_timeout_s
            for headline, future in futures:
                if future is None:
                    failed.append(headline)
                    continue
                try:
                    future.get(timeout=max(0.1, deadline - time.monotonic()))
                except (KafkaError, FutureTimeout) as exc:
                    last_error = exc
                    failed.append(headline)
            if failed:
                log.warning(
                    "kafka did not confirm %d of %d headlines (round %d/%d): %s",
                    len(failed),
                    len(pending),
                    attempt,
                    self.config.publish_attempts,
                    last_error,
                )
            pending = failed
        if pending:
            undelivered = {h.id for h in pending}
            raise PublishError(
                f"{len(pending)} headlines not confirmed by Kafka after "
                f"{self.config.publish_attempts} rounds: {last_error}",
                delivered_ids={h.id for h in headlines if h.id not in undelivered},
            )

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush whatever is buffered, then close (graceful shutdown)."""
        try:
            self._producer.flush(timeout=timeout_s)
        finally:
            self._producer.close(timeout=timeout_s)
