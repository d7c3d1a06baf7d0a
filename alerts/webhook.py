"""Signed webhook requests: sign, send with a timeout, classify the failure.

Every request carries

* ``X-Tapewatch-Timestamp``: Unix seconds when this attempt was signed;
* ``X-Tapewatch-Signature``: ``v1=`` + hex HMAC-SHA256 over ``"<timestamp>." + body`` with the
  shared secret. Receivers recompute it, compare in constant time, and reject timestamps older
  than a few minutes, so a captured request cannot be replayed later;
* ``Idempotency-Key``: the notification's key, the same on every retry, so a receiver that got
  a notification but whose answer was lost drops the repeat.

Nothing here logs or raises the URL: a Slack webhook URL is itself a credential.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from alerts.errors import PermanentDeliveryError, RetryableDeliveryError

SIGNATURE_HEADER = "X-Tapewatch-Signature"
TIMESTAMP_HEADER = "X-Tapewatch-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "tapewatch-alerts/1"
DEFAULT_TOLERANCE_SECONDS = 300
# Worth retrying: the receiver is busy, rate-limiting or briefly broken. Other 4xx mean the
# request itself is wrong (bad signature, unknown path) and repeating it cannot help.
RETRYABLE_STATUS = frozenset({408, 425, 429})


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact, keys sorted, the same on every attempt."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def verify(
    secret: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does: a valid signature over a fresh timestamp, or reject."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


class WebhookSender:
    """POSTs signed JSON bodies; one pooled HTTP client, a timeout on every request."""

    def __init__(self, secret: bytes, *, timeout_seconds: float) -> None:
        self._secret = secret
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def send(self, url: str, body: bytes, idempotency_key: str) -> int:
        """Deliver ``body``; returns the 2xx status or raises a DeliveryError subclass."""
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            IDEMPOTENCY_HEADER: idempotency_key,
        }
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise RetryableDeliveryError(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            # Connection refused, reset, DNS: the receiver is down or unreachable for now.
            raise RetryableDeliveryError(f"transport error ({type(exc).__name__})") from exc
        status = response.status_code
        if 200 <= status < 300:
            return status
        if status >= 500 or status in RETRYABLE_STATUS:
            hint = _retry_after(response)
            raise RetryableDeliveryError(
                f"receiver answered {status}", status_code=status, retry_after=hint
            )
        raise PermanentDeliveryError(f"receiver answered {status}", status_code=status)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
