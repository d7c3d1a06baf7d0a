"""HTTP fetching of feeds with httpx, defensively: every way a server can misbehave becomes an
:class:`~ingest.errors.IngestError`, never a hang or an unbounded read.

Limits: connect and read timeouts, a whole-fetch deadline (a server dripping one byte per second
never trips a read timeout), a maximum decompressed body size (a 10 MB page or a gzip bomb),
a maximum number of redirects (loops). Conditional GET with ETag / Last-Modified; 429 and 503
carry their Retry-After; requests to one host are spaced by a politeness interval.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from ingest.config import IngestConfig
from ingest.errors import (
    BodyTooLarge,
    ClientStatusError,
    ConnectFailed,
    FetchTimeout,
    HttpStatusError,
    IngestError,
    NotAFeed,
    RedirectLoop,
    RetryableError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchResult:
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None
    url: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HostThrottle:
    """Per-host politeness: requests to one host start at least ``min_interval_s`` apart."""

    def __init__(self, min_interval_s: float) -> None:
        self.min_interval_s = min_interval_s
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, host: str) -> float:
        """Book the host's next free slot; returns how long to wait for it (seconds)."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, 0.0))
            self._next_slot[host] = slot + self.min_interval_s
            return slot - now


class Fetcher:
    def __init__(self, config: IngestConfig, stop: threading.Event | None = None) -> None:
        self.config = config
        self.throttle = HostThrottle(config.host_min_interval_s)
        self._stop = stop or threading.Event()
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=config.connect_timeout_s,
                read=config.read_timeout_s,
                write=config.read_timeout_s,
                pool=config.connect_timeout_s,
            ),
            follow_redirects=True,
            max_redirects=config.max_redirects,
            headers={
                "User-Agent": config.user_agent,
                "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                "text/xml;q=0.9, */*;q=0.5",
                "Accept-Encoding": "gzip, deflate",
            },
        )

    def close(self) -> None:
        self._client.close()

    def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        host = httpx.URL(url).host
        wait = self.throttle.reserve(host)
        if wait > 0 and self._stop.wait(wait):
            raise RetryableError("shutting down")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.config.fetch_deadline_s
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self._check_status(response)
                if response.status_code == 304:
                    body = b""
                else:
                    body = self._read_limited(response, deadline)
                return FetchResult(
                    status=response.status_code,
                    body=body,
                    etag=response.headers.get("ETag") or etag,
                    last_modified=response.headers.get("Last-Modified") or last_modified,
                    content_type=response.headers.get("Content-Type"),
                    url=str(response.url),
                )
        except IngestError:
            raise
        except httpx.TooManyRedirects as exc:
            raise RedirectLoop(f"more than {self.config.max_redirects} redirects") from exc
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"{type(exc).__name__}: {exc}") from exc
        except httpx.ConnectError as exc:
            raise ConnectFailed(str(exc)) from exc
        except httpx.DecodingError as exc:
            raise NotAFeed(f"undecodable body: {exc}") from exc
        except httpx.HTTPError as exc:  # protocol errors, resets, invalid URLs
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 304 or 200 <= status < 300:
            return
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in (429, 503) or status >= 500:
            raise HttpStatusError(status, f"HTTP {status}", retry_after_s=retry_after)
        raise ClientStatusError(status, f"HTTP {status}")

    def _read_limited(self, response: httpx.Response, deadline: float) -> bytes:
        limit = self.config.max_body_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"Content-Length {declared} exceeds {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        # iter_bytes yields *decompressed* bytes, so a small gzip bomb is caught too.
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"body exceeds {limit} bytes")
            if time.monotonic() > deadline:
                raise FetchTimeout(f"body not complete within {self.config.fetch_deadline_s}s")
            chunks.append(chunk)
        return b"".join(chunks)
