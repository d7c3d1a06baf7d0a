"""Who may see the dashboard, and what its pages may load.

- Loopback by default. Binding any other address needs a token (``TAPEWATCH_WEB__TOKEN``):
  :func:`check_bind` refuses to start without one.
- With a token, every request carries it: ``Authorization: Bearer …``, or the cookie a browser
  gets after opening any page once with ``?token=…``.
- Every response carries a Content-Security-Policy that allows this origin only (no inline
  script, no external origin at all) and headers that stop sniffing, framing and referrers.
- On loopback, requests must name a loopback host: a web page elsewhere cannot reach the
  dashboard through a DNS name rebound to 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
COOKIE = "tapewatch_token"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


class UnsafeBindError(RuntimeError):
    """Asked to listen beyond loopback without a token to guard it."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise UnsafeBindError(
            f"refusing to serve the dashboard on {host} without a token: set "
            "TAPEWATCH_WEB__TOKEN (a long random string), or bind 127.0.0.1"
        )


def _cookie_value(token: str) -> str:
    # The cookie holds a digest, not the token: a leaked cookie does not reveal the token.
    return hmac.new(token.encode(), b"tapewatch-web-cookie", hashlib.sha256).hexdigest()


class SecurityMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = self._authorise(request)
        if response is None:
            response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def _authorise(self, request: Request) -> Response | None:
        """None when the request may go on, otherwise the answer it gets instead."""
        if not self.token:
            return None
        expected = _cookie_value(self.token)
        if hmac.compare_digest(request.cookies.get(COOKIE, ""), expected):
            return None
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:], self.token):
            return None
        offered = request.query_params.get("token")
        if offered is not None and hmac.compare_digest(offered, self.token):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            redirect = RedirectResponse(target, status_code=303)
            redirect.set_cookie(COOKIE, expected, httponly=True, samesite="strict", path="/")
            return redirect
        return PlainTextResponse(
            "a token is required: open the page once with ?token=… or send "
            "'Authorization: Bearer …'",
            status_code=401,
        )
