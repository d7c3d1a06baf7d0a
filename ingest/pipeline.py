"""The path every item takes, whatever its source: normalise, de-duplicate, publish, remember.

Ordering is the durability argument (at-least-once): headlines are published to Kafka and
confirmed by the broker *before* they are recorded in the seen-set. A crash between the two
re-publishes those headlines on the next run, with the same ids; downstream stores are keyed by
headline id, so the repeat is harmless. The opposite order could lose headlines for good.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ingest.canonical_url import canonicalize_url
from ingest.config import IngestConfig
from ingest.dedupe import SeenRecord, SeenStore, SimIndex, headline_id, simhash64
from ingest.errors import PublishError
from ingest.metrics import IngestMetrics
from ingest.normalize import clean_text, extract_tickers, published_utc
from ingest.producer import HeadlinePublisher
from tapewatch.events import MAX_TITLE_CHARS, Headline

log = logging.getLogger(__name__)

CHUNK = 1000  # items per seen-set query / publish round / insert
_FOREVER = timedelta(days=36_500)


@dataclass(frozen=True)
class RawItem:
    """An item as a source produced it, before normalisation."""

    title: str | None
    url: str | None = None
    published_at: datetime | None = None
    tickers: Sequence[str] = ()
    # The item's own source name (replay files and pushes may carry one per row).
    source: str | None = None
    # A date was given but could not be read: the fetch time stands in, and it is counted.
    date_invalid: bool = False


@dataclass
class Outcome:
    """What one batch came to; counts also go to the metrics."""

    fetched: int = 0
    new: list[Headline] = field(default_factory=list)
    duplicates: int = 0
    near_duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    published: int = 0  # == len(new) unless items were not kept

    def add(self, other: Outcome, *, keep_items: bool = True) -> None:
        self.fetched += other.fetched
        self.published += other.published
        if keep_items:
            self.new += other.new
        self.duplicates += other.duplicates
        self.near_duplicates += other.near_duplicates
        for reason, count in other.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + count


class Pipeline:
    def __init__(
        self,
        config: IngestConfig,
        store: SeenStore,
        publisher: HeadlinePublisher,
        metrics: IngestMetrics,
    ) -> None:
        self.config = config
        self.store = store
        self.publisher = publisher
        self.metrics = metrics
        # Check-publish-record is one critical section: two feeds carrying the same story at the
        # same moment must not both publish it as new, nor both open a cluster for it.
        self._lock = threading.Lock()

    def normalize(
        self, source: str, raw: RawItem, fetched_at: datetime
    ) -> tuple[Headline | None, str | None]:
        """(headline, None) or (None, reason it was rejected)."""
        title = clean_text(raw.title)
        if not title:
            return None, "missing_title"
        title = title[:MAX_TITLE_CHARS]
        item_source = (raw.source or source)[:200]
        url = canonicalize_url(raw.url)
        published, valid = published_utc(
            raw.published_at,
            fetched_at,
            max_future_skew=timedelta(seconds=self.config.max_future_skew_s),
        )
        if not valid or raw.date_invalid:
            log.info(
                "source %s: unusable published time %r, using fetch time", source, raw.published_at
            )
            self.metrics.date_replaced.labels(source).inc()
        tickers = list(
            dict.fromkeys([t.upper() for t in raw.tickers if t] + extract_tickers(title))
        )
        tickers = [t for t in tickers if len(t) <= 16]
        return (
            Headline(
                id=headline_id(url, item_source, title),
                source=item_source,
                title=title,
                url=url,
                published_at=published,
                ingested_at=fetched_at,
                tickers=tickers,
            ),
            None,
        )

    def ingest(
        self, source: str, items: Sequence[RawItem], fetched_at: datetime | None = None
    ) -> Outcome:
        """Normalise, de-duplicate and publish ``items``; raises PublishError if Kafka fails.

        Headlines confirmed by Kafka before a failure are still recorded as seen.
        """
        fetched_at = fetched_at or datetime.now(UTC)
        outcome = Outcome()
        for start in range(0, len(items), CHUNK):
            outcome.add(self._ingest_chunk(source, items[start : start + CHUNK], fetched_at))
        return outcome

    def _ingest_chunk(self, source: str, items: Sequence[RawItem], fetched_at: datetime) -> Outcome:
        outcome = Outcome(fetched=len(items))
        self.metrics.fetched.labels(source).inc(len(items))
        candidates: dict[str, Headline] = {}
        for raw in items:
            headline, reason = self.normalize(source, raw, fetched_at)
            if headline is None:
                assert reason is not None
                outcome.rejected[reason] = outcome.rejected.get(reason, 0) + 1
                self.metrics.rejected.labels(source, reason).inc()
                continue
            if headline.id in candidates:
                outcome.duplicates += 1  # the same link twice in one feed
                continue
            candidates[headline.id] = headline
        if outcome.rejected:
            log.warning("source %s: rejected items %s", source, outcome.rejected)

        with self._lock:
            seen = self.store.already_seen(list(candidates))
            outcome.duplicates += len(seen)
            fresh: list[Headline] = []
            records: dict[str, SeenRecord] = {}
            # Copies of one story inside this very batch cluster together too.
            batch_index = SimIndex(self.config.near_duplicate_max_distance, _FOREVER)
            for hid, headline in candidates.items():
                if hid in seen:
                    continue
                simhash = simhash64(headline.title)
                cluster = self.store.find_cluster(simhash) or batch_index.find(simhash) or hid
                batch_index.add(simhash, cluster, fetched_at)
                fresh.append(headline.model_copy(update={"cluster_id": cluster}))
                records[hid] = SeenRecord(hid, headline.source, simhash, cluster, fetched_at)
            try:
                self.publisher.publish(fresh)
                confirmed = fresh
            except PublishError as exc:
                confirmed = [h for h in fresh if h.id in exc.delivered_ids]
                raise
            finally:
                # Whatever Kafka confirmed is remembered, even when part of the batch failed.
                self.store.record([records[h.id] for h in confirmed])
                outcome.new = confirmed
                outcome.published = len(confirmed)
                outcome.near_duplicates = sum(1 for h in confirmed if h.cluster_id != h.id)
                self.metrics.new.labels(source).inc(len(confirmed))
                self.metrics.duplicate.labels(source).inc(outcome.duplicates)
                self.metrics.clustered.labels(source).inc(outcome.near_duplicates)
        return outcome
