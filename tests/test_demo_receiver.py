"""The demo webhook receiver over real loopback HTTP: it accepts what the alerts worker's sender
signs, refuses what is unsigned or stale, stores each notification once and shows it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alerts.errors import PermanentDeliveryError
from alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSender, encode, sign
from tapewatch.demo.receiver import read_received, serve
from tapewatch.local.proc import free_port

SECRET = b"a-test-secret-of-32-characters!!"
PAYLOAD = {
    "event": "firing",
    "summary": "Negative-sentiment spike on Energy | Oil: 80% negative (40 of 50) vs 30% baseline",
    "alert": {"topic": "Energy | Oil", "evidence": {"headlines": [{"title": "Crude sinks 5%"}]}},
}


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    out = tmp_path / "alerts.jsonl"
    server = serve(port, SECRET, out)
    try:
        yield f"http://127.0.0.1:{port}", out
    finally:
        server.shutdown()
        server.server_close()


def test_signed_alert_is_stored_once_and_shown(receiver: tuple[str, Path]) -> None:
    base, out = receiver
    with WebhookSender(SECRET, timeout_seconds=5) as sender:
        assert sender.send(f"{base}/alerts", encode(PAYLOAD), "key-1") == 200
        assert sender.send(f"{base}/alerts", encode(PAYLOAD), "key-1") == 200  # a retry
    stored = read_received(out)
    assert len(stored) == 1
    assert stored[0]["idempotency_key"] == "key-1"
    assert stored[0]["payload"]["alert"]["topic"] == "Energy | Oil"
    page = httpx.get(f"{base}/").text
    assert "FIRING: Negative-sentiment spike on Energy | Oil" in page
    assert "Crude sinks 5%" in page
    assert httpx.get(f"{base}/alerts.json").json()[0]["idempotency_key"] == "key-1"


def test_wrong_secret_unsigned_and_stale_requests_are_refused(receiver: tuple[str, Path]) -> None:
    base, out = receiver
    wrong = WebhookSender(b"some-other-secret-of-32-chars!!!", timeout_seconds=5)
    with wrong, pytest.raises(PermanentDeliveryError) as refused:
        wrong.send(f"{base}/alerts", encode(PAYLOAD), "key-2")
    assert refused.value.status_code == 401
    assert httpx.post(f"{base}/alerts", content=encode(PAYLOAD)).status_code == 401
    stale = int(time.time()) - 3600
    body = encode(PAYLOAD)
    headers = {TIMESTAMP_HEADER: str(stale), SIGNATURE_HEADER: sign(SECRET, stale, body)}
    assert httpx.post(f"{base}/alerts", content=body, headers=headers).status_code == 401
    assert read_received(out) == []
    assert "No alerts yet" in httpx.get(f"{base}/").text
