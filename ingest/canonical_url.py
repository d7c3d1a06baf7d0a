"""Canonical URLs: one spelling per article, so the same link always hashes to the same id.

Tracking parameters (``utm_*``, ``fbclid``, …) and fragments go, the scheme and host are
lower-cased, default ports dropped, the remaining query parameters sorted and percent-escapes
upper-cased. Anything that is not an absolute http(s) URL yields ``None``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "_ga",
        "_gl",
        "cmpid",
        "ncid",
        "sr_share",
        "taid",
        "soc_src",
        "soc_trk",
        "__source",
        "ocid",
    }
)
TRACKING_PREFIXES = ("utm_",)
MAX_URL_CHARS = 2048

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
# Characters kept literally in a path: RFC 3986 unreserved, sub-delims, ':', '@', '/', '%'.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def _is_tracking(key: str) -> bool:
    k = key.lower()
    return k in TRACKING_PARAMS or k.startswith(TRACKING_PREFIXES)


def _upper_escapes(text: str) -> str:
    return _PERCENT.sub(lambda m: m.group(0).upper(), text)


def canonicalize_url(url: str | None) -> str | None:
    """The canonical form of an absolute http(s) URL, or ``None`` if it is not one."""
    if not url:
        return None
    url = url.strip()
    if len(url) > MAX_URL_CHARS or _SPACE_OR_CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    host = host.rstrip(".")
    if not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Re-quote so that a raw space or non-ASCII character and its %-escape spell the same.
    path = _upper_escapes(quote(parts.path or "/", safe=_PATH_SAFE))
    query_pairs = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query = urlencode(sorted(query_pairs), doseq=False)
    canonical = urlunsplit((scheme, netloc, path, query, ""))
    return canonical if len(canonical) <= MAX_URL_CHARS else None
