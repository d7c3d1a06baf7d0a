"""Ingest's one exception tree: retryable (try again later) versus permanent (fix the input).

Every failure of a source is an :class:`IngestError` with a short ``kind`` that labels the error
metric, so a dashboard can tell timeouts from oversized bodies from broken XML.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every ingest failure."""

    kind = "error"
    retryable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        # A server-requested pause (Retry-After); the source backs off at least this long.
        self.retry_after_s = retry_after_s


class RetryableError(IngestError):
    """Transient: the same request may well succeed later (timeouts, 5xx, 429, broker down)."""


class PermanentError(IngestError):
    """The input itself is wrong; retrying soon will not help (it is still retried, slowly)."""

    retryable = False


class FetchTimeout(RetryableError):
    kind = "timeout"


class ConnectFailed(RetryableError):
    kind = "connect"


class HttpStatusError(RetryableError):
    kind = "http_status"

    def __init__(self, status: int, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.status = status
        if status in (429, 503):
            self.kind = "throttled"


class ClientStatusError(PermanentError):
    """4xx other than 429: the URL is wrong or forbidden."""

    kind = "http_status"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class BodyTooLarge(PermanentError):
    kind = "too_large"


class RedirectLoop(PermanentError):
    kind = "redirects"


class NotAFeed(PermanentError):
    """The body parsed to no feed at all: an HTML error page, a login wall, garbage XML."""

    kind = "not_a_feed"


class MalformedFeed(PermanentError):
    """Broken XML from which not one usable entry could be recovered."""

    kind = "malformed"


class ReplayFileError(PermanentError):
    kind = "replay_file"


class PublishError(RetryableError):
    """Kafka did not confirm every headline; the unconfirmed ones were not marked as seen."""

    kind = "publish"

    def __init__(self, message: str, *, delivered_ids: set[str] | None = None) -> None:
        super().__init__(message)
        self.delivered_ids = delivered_ids or set()
