"""What the classifier does with awkward input, item by item (documented in docs/classifier.md).

- empty or whitespace-only text: an error record for that item ("empty text");
- control characters: replaced by spaces, then whitespace collapsed;
- over ``MAX_CHARS`` characters: cut to ``MAX_CHARS`` and flagged ``truncated`` (the tokenizer
  keeps only the first ``max_length`` tokens anyway);
- mostly non-Latin script (likely not English): classified, flagged ``non_latin_script`` because
  the model was trained on English headlines and its confidence there means less;
- invalid UTF-8 can only occur before text is decoded: the CLI reports it per line.

:func:`model_text` is the one normalisation both training and inference apply before the
tokenizer: HTML entities decoded and each link replaced by the one word ``http`` (a shortened
link's characters are random and cost tokens, but whether a tweet carries a link says something:
wire-style news usually does, opinion less often).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

MAX_CHARS = 10_000
_SPACE = re.compile(r"\s+")
_URL = re.compile(r"https?://\S+|www\.\S+")


@dataclass(frozen=True, slots=True)
class CleanText:
    text: str | None  # None when the item cannot be classified
    error: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in {"Cc", "Cs", "Co"} and ch not in "\t\n\r"


def _latin_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    latin = sum(1 for ch in letters if ch.isascii() or "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters)


def clean(raw: str) -> CleanText:
    warnings: list[str] = []
    if len(raw) > MAX_CHARS:
        raw = raw[:MAX_CHARS]
        warnings.append("truncated")
    text = "".join(" " if _is_control(ch) else ch for ch in raw)
    text = _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    if not text:
        return CleanText(None, "empty text")
    if _latin_share(text) < 0.5:
        warnings.append("non_latin_script")
    return CleanText(text, None, tuple(warnings))


def model_text(text: str) -> str:
    """The text the tokenizer sees; identical in training and inference."""
    stripped = _SPACE.sub(" ", _URL.sub(" http ", html.unescape(text))).strip()
    return stripped or text.strip()
