"""Text normalisation of headlines: HTML and entities stripped, NFC, whitespace collapsed,
published times in UTC, cashtags and exchange tickers extracted."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

# Block-level content that is never headline text.
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})
# Tags after which words must not run together ("Fed<br>cuts" -> "Fed cuts").
_BREAK_TAGS = frozenset({"br", "p", "div", "li", "td", "th", "tr", "h1", "h2", "h3", "h4", "hr"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        # convert_charrefs decodes entities exactly once: "AT&amp;T" -> "AT&T", "&lt;b&gt;" -> "<b>"
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BREAK_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BREAK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """Text content of an HTML fragment; entities decoded once."""
    if "<" not in text and "&" not in text:
        return text  # the common case, and far cheaper than a parser
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def _drop_controls(text: str) -> str:
    # Control characters (Cc) other than whitespace become spaces; BOM and zero-width spaces go.
    out = []
    for ch in text:
        if ch in "\ufeff\u200b":
            continue
        if unicodedata.category(ch) == "Cc":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


def clean_text(text: str | None) -> str:
    """A headline as people read it: no markup, one space between words, Unicode NFC."""
    if not text:
        return ""
    text = strip_html(text)
    if not text.isprintable() or "\ufeff" in text or "\u200b" in text:
        text = _drop_controls(text)
    # NFC before and after collapsing: collapsing never creates a new composable pair, but
    # the second pass keeps the promise even for exotic sequences.
    return unicodedata.normalize("NFC", collapse_whitespace(unicodedata.normalize("NFC", text)))


# --- tickers ------------------------------------------------------------------------------------

# $AAPL, $BRK.B, $tsla; not "$5" or "US$10" (amounts) nor "$AAPLX1" (too long / digits).
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)(?![\w])")
# "(NASDAQ: AAPL)", "(NYSE:IBM)", "(LSE: VOD)".
_EXCHANGE = re.compile(
    r"\((?:NASDAQ|Nasdaq|NYSE(?:\s?American|\s?Arca)?|AMEX|OTC(?:QX|QB)?|TSX(?:V)?|LSE|ASX|CSE)"
    r"\s*:\s*([A-Z]{1,6}(?:\.[A-Z]{1,2})?)\)"
)


def extract_tickers(text: str) -> list[str]:
    """Cashtags and exchange-qualified tickers, upper-cased, in order of first appearance."""
    found = [m.group(1).upper() for m in _CASHTAG.finditer(text)]
    found += [m.group(1) for m in _EXCHANGE.finditer(text)]
    return list(dict.fromkeys(found))


# --- times --------------------------------------------------------------------------------------

_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def published_utc(
    published: datetime | None, fetched_at: datetime, *, max_future_skew: timedelta
) -> tuple[datetime, bool]:
    """(published time in UTC, whether it was usable); unusable or missing -> the fetch time.

    Naive times are refused rather than guessed, as in the event contract; so are times before
    1990 or further in the future than ``max_future_skew`` (a broken feed, not news).
    """
    if published is None:
        return fetched_at, True
    if published.tzinfo is None:
        return fetched_at, False
    value = published.astimezone(UTC)
    if value < _EARLIEST or value > fetched_at + max_future_skew:
        return fetched_at, False
    return value, True


# --- the text SimHash sees ----------------------------------------------------------------------

_STOPWORDS = frozenset(
    {"a", "an", "the", "as", "after", "and", "or", "to", "of", "in", "on", "for", "at", "by"}
    | {"with", "from", "is", "are", "its", "it", "be", "was", "were", "will", "this", "that"}
    | {"into", "over"}
)
# Wire prefixes ("UPDATE 2-", "EXCLUSIVE:") and outlet suffixes (" - Reuters", " | CNBC").
_PREFIX = re.compile(
    r"^(?:(?:update|corrected|refile|exclusive|breaking|wrapup|analysis|factbox)\s*\d*\s*[-:]\s*)+",
    re.IGNORECASE,
)
_SUFFIX = re.compile(r"\s+[-|–—]\s+[^-|–—]{1,40}$")
_LEADING_CASHTAGS = re.compile(r"^(?:\$[A-Za-z.]{1,8}[\s,]*)+(?:[-:]\s*)?")
_TOKEN = re.compile(r"[\w$%]+(?:[.,]\d+)*")


def similarity_tokens(title: str) -> list[str]:
    """The words that identify a story, for near-duplicate detection across outlets.

    Outlet suffixes, wire prefixes, leading cashtag lists and stop words are dropped, so
    "UPDATE 1-Fed holds rates - Reuters" and "Fed holds rates" give the same tokens.
    """
    text = _LEADING_CASHTAGS.sub("", _PREFIX.sub("", title.strip()))
    suffix = _SUFFIX.search(text)
    # Only a short tail after a long head is an outlet's name ("... - Reuters").
    if suffix and len(suffix.group(0).split()) <= 5 and len(text[: suffix.start()].split()) >= 4:
        text = text[: suffix.start()]
    return [t for t in _TOKEN.findall(text.casefold()) if t not in _STOPWORDS]
