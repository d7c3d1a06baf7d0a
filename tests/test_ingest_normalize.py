"""Normalisation and URL canonicalisation: examples, and properties checked with hypothesis."""

from __future__ import annotations

import html
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from ingest.canonical_url import canonicalize_url
from ingest.normalize import clean_text, extract_tickers, published_utc, similarity_tokens

# Text without markup characters, so that the expected result is easy to state.
plain_text = st.text(
    st.characters(codec="utf-8", exclude_characters="<>&", exclude_categories=("Cs",)),
    max_size=80,
)


def test_examples() -> None:
    assert (
        clean_text("  <p>Fed&nbsp;holds <b>rates</b></p>\n\t steady ") == "Fed holds rates steady"
    )
    assert clean_text("AT&amp;T cuts &quot;guidance&quot;") == 'AT&T cuts "guidance"'
    assert clean_text("Q3 EPS &lt; estimates") == "Q3 EPS < estimates"
    assert clean_text("Cafe\u0301 chain<script>alert(1)</script> IPO") == "Café chain IPO"
    assert clean_text("line<br>break") == "line break"
    assert clean_text(None) == "" and clean_text("<b> </b>") == ""


@given(plain_text)
def test_plain_text_keeps_its_words_in_nfc(text: str) -> None:
    cleaned = clean_text(text)
    assert unicodedata.is_normalized("NFC", cleaned)
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert all(unicodedata.category(ch) != "Cc" for ch in cleaned)
    expected = clean_text(" ".join(unicodedata.normalize("NFC", text).split()))
    assert cleaned == expected
    assert clean_text(cleaned) == cleaned  # idempotent


@given(plain_text)
def test_escaped_text_decodes_exactly_once(text: str) -> None:
    # A feed that escapes its title yields the literal title, markup characters and all.
    assert clean_text(html.escape(text)) == clean_text(text)
    assert clean_text(html.escape("a <b> & c")) == "a <b> & c"


@given(plain_text, st.sampled_from(["b", "i", "em", "strong", "span", "a"]))
def test_tags_are_removed_but_not_their_text(text: str, tag: str) -> None:
    assert clean_text(f"<{tag} class='x'>{text}</{tag}>") == clean_text(text)


@given(st.text(max_size=200))
def test_any_text_gives_clean_nfc_output(text: str) -> None:
    cleaned = clean_text(text)
    assert unicodedata.is_normalized("NFC", cleaned)
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert "\x00" not in cleaned


def test_tickers() -> None:
    assert extract_tickers("$AAPL and $msft beat; $BRK.B flat; $5 coffee; US$10bn") == [
        "AAPL",
        "MSFT",
        "BRK.B",
    ]
    assert extract_tickers("Exxon (NYSE: XOM) and Apple (NASDAQ:AAPL) $AAPL") == ["AAPL", "XOM"]
    assert extract_tickers("no tickers here, just $ signs $") == []


@given(st.from_regex(r"[A-Z]{1,5}", fullmatch=True), plain_text)
def test_a_cashtag_is_always_found(symbol: str, text: str) -> None:
    assert symbol in extract_tickers(f"{text} ${symbol} rallies")


def test_published_times() -> None:
    fetched = datetime(2024, 6, 12, 12, 0, tzinfo=UTC)
    skew = timedelta(days=1)
    plus2 = datetime(2024, 6, 12, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert published_utc(plus2, fetched, max_future_skew=skew) == (
        datetime(2024, 6, 12, 9, 0, tzinfo=UTC),
        True,
    )
    assert published_utc(None, fetched, max_future_skew=skew) == (fetched, True)
    naive = datetime(2024, 6, 12, 11, 0)
    assert published_utc(naive, fetched, max_future_skew=skew) == (fetched, False)
    future = fetched + timedelta(days=30)
    assert published_utc(future, fetched, max_future_skew=skew) == (fetched, False)
    ancient = datetime(1970, 1, 1, tzinfo=UTC)
    assert published_utc(ancient, fetched, max_future_skew=skew) == (fetched, False)


def test_similarity_tokens_ignore_wire_and_outlet_decoration() -> None:
    base = similarity_tokens("Fed holds rates steady")
    assert similarity_tokens("UPDATE 2-Fed holds rates steady - Reuters") == base
    assert similarity_tokens("EXCLUSIVE: Fed holds rates steady | CNBC") == base
    assert similarity_tokens("$SPY $TLT - Fed holds rates steady") == base


# --- URLs ---------------------------------------------------------------------------------------


def test_url_examples() -> None:
    assert (
        canonicalize_url("HTTPS://News.Example.COM:443/a/b?utm_source=x&b=2&a=1&fbclid=y#frag")
        == "https://news.example.com/a/b?a=1&b=2"
    )
    assert canonicalize_url("http://example.com") == "http://example.com/"
    assert canonicalize_url("http://example.com:8080/x") == "http://example.com:8080/x"
    assert canonicalize_url("https://example.com/caf%c3%a9") == "https://example.com/caf%C3%A9"
    assert canonicalize_url("https://example.com/café") == "https://example.com/caf%C3%A9"
    for bad in (
        None,
        "",
        "ftp://example.com/x",
        "/relative/path",
        "javascript:alert(1)",
        "https://exa mple.com/",
        "http://example.com:99999/",
        "mailto:a@b.c",
    ):
        assert canonicalize_url(bad) is None, bad


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){1,2}", fullmatch=True)
paths = st.lists(st.from_regex(r"[A-Za-z0-9._~-]{1,8}", fullmatch=True), max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)
params = st.lists(
    st.tuples(
        st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True).filter(
            lambda k: (
                not k.startswith("utm") and k not in ("fbclid", "gclid", "cmpid", "ncid", "ocid")
            )
        ),
        st.from_regex(r"[A-Za-z0-9]{0,6}", fullmatch=True),
    ),
    max_size=4,
    unique_by=lambda kv: kv[0],
)
tracking = st.lists(
    st.tuples(
        st.sampled_from(["utm_source", "utm_medium", "UTM_Campaign", "fbclid", "gclid", "mc_cid"]),
        st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True),
    ),
    max_size=3,
)


def _url(scheme: str, host: str, path: str, query: list[tuple[str, str]], frag: str) -> str:
    qs = "&".join(f"{k}={v}" for k, v in query)
    return f"{scheme}://{host}{path}" + (f"?{qs}" if qs else "") + (f"#{frag}" if frag else "")


@given(
    st.sampled_from(["http", "https"]),
    hosts,
    paths,
    params,
    tracking,
    st.permutations(range(8)),
    st.text(alphabet="abc", max_size=4),
)
def test_canonical_url_properties(
    scheme: str,
    host: str,
    path: str,
    query: list[tuple[str, str]],
    noise: list[tuple[str, str]],
    order: list[int],
    fragment: str,
) -> None:
    clean = canonicalize_url(_url(scheme, host, path, query, ""))
    assert clean is not None
    # Idempotent.
    assert canonicalize_url(clean) == clean
    # Tracking parameters, fragments, host case and parameter order do not matter.
    mixed = query + noise
    shuffled = [mixed[i] for i in order if i < len(mixed)]
    noisy = _url(scheme.upper(), host.upper(), path, shuffled, fragment)
    assert canonicalize_url(noisy) == clean
    # Meaningful parameters all survive, and nothing else.
    parts = urlsplit(clean)
    assert sorted(parse_qsl(parts.query, keep_blank_values=True)) == sorted(query)
    assert parts.hostname == host and parts.fragment == "" and parts.path == path
    assert parts.scheme == scheme


@given(st.text(max_size=100))
def test_canonicalize_never_raises_and_is_idempotent(text: str) -> None:
    for candidate in (text, "https://example.com/" + text, "http://" + text):
        result = canonicalize_url(candidate)
        if result is not None:
            assert result.startswith(("http://", "https://"))
            assert canonicalize_url(result) == result
