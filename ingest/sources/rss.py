"""RSS 2.0 / Atom feeds: one :class:`FeedPoller` per feed, polled by the scheduler.

A poll never raises: every failure is logged with the source named, counted, written to the
feed's state, and pushes the next poll back (exponential back-off, or the server's Retry-After).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from ingest.config import FeedSpec, IngestConfig
from ingest.errors import IngestError, MalformedFeed, NotAFeed
from ingest.feed_state import FeedStateStore
from ingest.fetch import Fetcher
from ingest.metrics import IngestMetrics
from ingest.pipeline import Outcome, Pipeline, RawItem

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_S = 86_400.0  # honour a server's pause, but never park a feed for days


@dataclass(frozen=True)
class PollResult:
    status: str  # "ok", "not_modified", "backing_off", "error"
    outcome: Outcome | None = None
    error: IngestError | None = None


def _entry_time(entry: Any) -> tuple[datetime | None, bool]:
    """(published time in UTC, whether a date was present but unreadable)."""
    for parsed_key, raw_key in (("published_parsed", "published"), ("updated_parsed", "updated")):
        parsed = entry.get(parsed_key)
        if parsed:
            try:
                return datetime(*parsed[:6], tzinfo=UTC), False
            except (TypeError, ValueError):
                return None, True
        if entry.get(raw_key):
            return None, True
    return None, False


def parse_feed(body: bytes, content_type: str | None, url: str) -> tuple[list[RawItem], str | None]:
    """Items of an RSS/Atom document and a warning if it was malformed but still readable.

    Raises :class:`NotAFeed` for anything that yields no feed (an HTML error page, garbage) and
    :class:`MalformedFeed` for broken XML with nothing usable in it.
    """
    kind = (content_type or "unknown type").split(";")[0]
    if not body.strip():
        # feedparser returns a result without even a "version" key for an empty body.
        raise NotAFeed(f"empty body ({kind})")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(body, response_headers=headers)
    except Exception as exc:  # feedparser's own bugs on hostile bytes are still the feed's fault
        raise NotAFeed(f"unparseable body ({kind}): {type(exc).__name__}: {exc}") from exc
    problem = parsed.get("bozo_exception")
    # .get, not attribute access: results of some bodies carry no "version" at all.
    if not parsed.entries and (not parsed.get("version") or parsed.bozo):
        raise NotAFeed(f"no RSS/Atom feed in the body ({kind}): {problem or 'no entries'}")
    if parsed.bozo and not any(entry.get("title") for entry in parsed.entries):
        raise MalformedFeed(f"malformed feed, no usable entry: {problem}")
    items = []
    for entry in parsed.entries:
        published, invalid = _entry_time(entry)
        items.append(
            RawItem(
                title=entry.get("title"),
                url=entry.get("link"),
                published_at=published,
                date_invalid=invalid,
            )
        )
    warning = f"malformed feed, read leniently: {problem}" if parsed.bozo and problem else None
    return items, warning


class FeedPoller:
    """Polls one feed: conditional GET, parse, hand items to the pipeline, keep state."""

    def __init__(
        self,
        spec: FeedSpec,
        *,
        config: IngestConfig,
        fetcher: Fetcher,
        pipeline: Pipeline,
        states: FeedStateStore,
        metrics: IngestMetrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.url = str(spec.url)
        self.config = config
        self.fetcher = fetcher
        self.pipeline = pipeline
        self.states = states
        self.metrics = metrics
        self.clock = clock

    def poll(self) -> PollResult:
        """One poll; never raises."""
        try:
            return self._poll()
        except Exception as exc:  # a bug or the database down: still never kill the worker
            log.exception("source %s: unexpected failure while polling", self.name)
            self.metrics.errors.labels(self.name, "unexpected").inc()
            return PollResult("error", error=IngestError(str(exc)))

    def _poll(self) -> PollResult:
        now = self.clock()
        state = self.states.load(self.name)
        if state.next_poll_after is not None and now < state.next_poll_after:
            log.debug("source %s: backing off until %s", self.name, state.next_poll_after)
            return PollResult("backing_off")
        # Validators belong to a URL; a reconfigured feed starts afresh.
        same_url = state.url == self.url
        try:
            with self.metrics.fetch_seconds.labels(self.name).time():
                result = self.fetcher.fetch(
                    self.url,
                    etag=state.etag if same_url else None,
                    last_modified=state.last_modified if same_url else None,
                )
                if result.not_modified:
                    self.metrics.not_modified.labels(self.name).inc()
                    outcome = None
                else:
                    items, warning = parse_feed(result.body, result.content_type, result.url)
                    if warning:
                        log.warning("source %s: %s", self.name, warning)
                        self.metrics.errors.labels(self.name, "malformed").inc()
            if not result.not_modified:
                outcome = self.pipeline.ingest(self.name, items, now)
        except IngestError as exc:
            return self._failed(exc, state.consecutive_failures + 1, now)
        self.states.record_success(
            self.name,
            self.url,
            status=str(result.status),
            etag=result.etag,
            last_modified=result.last_modified,
            now=now,
        )
        self.metrics.last_success.labels(self.name).set(now.timestamp())
        if outcome is None:
            log.debug("source %s: not modified", self.name)
            return PollResult("not_modified")
        log.info(
            "source %s: %d items, %d new (%d near-duplicates), %d duplicates",
            self.name,
            outcome.fetched,
            len(outcome.new),
            outcome.near_duplicates,
            outcome.duplicates,
        )
        return PollResult("ok", outcome=outcome)

    def _failed(self, exc: IngestError, failures: int, now: datetime) -> PollResult:
        backoff = min(
            self.config.backoff_max_s, self.config.backoff_base_s * 2 ** min(failures - 1, 20)
        )
        backoff *= random.uniform(0.9, 1.1)  # de-synchronise feeds failing together
        if exc.retry_after_s is not None:
            backoff = max(backoff, min(exc.retry_after_s, MAX_RETRY_AFTER_S))
        next_poll = now + timedelta(seconds=backoff)
        self.metrics.errors.labels(self.name, exc.kind).inc()
        log.warning(
            "source %s: poll failed (%s, %s): %s; failure %d, next poll after %s",
            self.name,
            exc.kind,
            "retryable" if exc.retryable else "permanent",
            exc,
            failures,
            next_poll.isoformat(timespec="seconds"),
        )
        self.states.record_failure(
            self.name,
            self.url,
            status=exc.kind,
            error=f"{type(exc).__name__}: {exc}",
            failures=failures,
            next_poll_after=next_poll,
            now=now,
        )
        return PollResult("error", error=exc)
