"""Tweets rewritten the way a news headline would carry the same news.

The twitter topic set is the only source with topic labels, and its rows read like tweets:
"$BAC: Bank of America increases quarterly dividend to $0.22/share  https://t.co/...". The
news sources carry sentiment labels only, so nothing with a gold topic looks like a headline,
and a topic head can lean on the tweet's dress (the cashtag prefix, the trailing link, "RT",
hashtags) as much as on its news. Rewritten copies keep the gold topic and lose the dress:
"Bank of America increases quarterly dividend to $0.22/share".

What is removed carries no news: links, a leading "$TICKER:" or "RT @user:", "@" and "#" signs
(the word stays), a trailing "..." where the tweet was cut. Cashtags inside the text keep
their ticker without the "$" ("$AAPL" -> "AAPL"); "$" before a number is money and stays.
The encoder is uncased, so case is left alone.
"""

from __future__ import annotations

import html
import re

_URL = re.compile(r"https?://\S+|www\.\S+")
_RETWEET = re.compile(r"^RT\s+@\w+:?\s*")
# "$BAC:" or "$BAC -" or "$BAC" at the very start, possibly several ("$SPY $QQQ: ...").
_LEADING_TICKERS = re.compile(r"^(?:\$[A-Za-z][A-Za-z0-9.]*\s*[:\-–—]?\s*)+")
_CASHTAG = re.compile(r"\$([A-Za-z][A-Za-z0-9.]*)")
_HANDLE_OR_TAG = re.compile(r"(?<!\w)[@#](\w)")
_TRAILING_CUT = re.compile(r"\s*(?:\.\.\.|…)\s*$")
_SPACE = re.compile(r"\s+")


def headline_style(text: str) -> str:
    """The tweet as a headline; the same text when there is nothing to take off."""
    out = html.unescape(text)
    out = _URL.sub(" ", out)
    out = _RETWEET.sub("", out.strip())
    stripped = _LEADING_TICKERS.sub("", out)
    # A tweet that is nothing but tickers keeps them (without "$"): there is no other news.
    out = stripped if stripped.strip() else out
    out = _CASHTAG.sub(r"\1", out)
    out = _HANDLE_OR_TAG.sub(r"\1", out)
    out = _TRAILING_CUT.sub("", _SPACE.sub(" ", out).strip())
    out = out.strip(" :-–—|")
    return out or text.strip()
