"""The alerts exception tree. Callers react to the class: retry later, or give up.

AlertsError
├── AlertsConfigError           settings that cannot work (missing secret, unknown receiver)
└── DeliveryError               a webhook notification was not accepted
    ├── RetryableDeliveryError  try again later: timeouts, refused connections, 5xx, 429
    └── PermanentDeliveryError  retrying cannot help: other 4xx, a receiver removed from config
"""

from __future__ import annotations


class AlertsError(Exception):
    """Base class of every error the alerts package raises on purpose."""


class AlertsConfigError(AlertsError):
    """The alert settings cannot work as given; the message says which one to fix."""


class DeliveryError(AlertsError):
    """A webhook receiver did not accept a notification."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableDeliveryError(DeliveryError):
    """The receiver may accept the notification later; ``retry_after`` is its hint, if any."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The receiver rejected the notification in a way retrying cannot fix."""
