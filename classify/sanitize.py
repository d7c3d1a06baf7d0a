"""What the classifier does with awkward input, item by item (documented in docs/classifier.md).

- empty or whitespace-only text: an error record for that item ("empty text");
- control characters: replaced by spaces, then whitespace collapsed;
- over ``MAX_CHARS`` characters: cut to ``MAX_CHARS`` and flagged ``truncated`` (the tokenizer
  keeps only the first ``max_length`` tokens anyway);
- mostly non-Latin script (likely not English): classified, flagged ``non_latin_script`` because
  the model was trained on English headlines and its confidence there means less;
- invalid UTF-8 can only occur before text is decoded: the CLI reports it per line.

:func:`model_text` is the one normalisation both training and inference apply before the
tokenizer: HTML entities decoded, typographic quotes, the minus sign and full-width characters
mapped to ASCII, and each link replaced by the one word ``http`` (a shortened link's characters
are random and cost tokens, but whether a tweet carries a link says something: wire-style news
usually does, opinion less often).
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


# Typographic forms that mean the same as an ASCII character but tokenize apart from it: news
# sites set curly quotes and the minus sign (U+2212) where the labelled news headlines have
# ASCII, and the encoder glues "−3" into one unusual piece where "-3" keeps its sign and number
# apart. Full-width letters and digits (U+FF01-FF5E) would be [UNK]. Nothing else is touched:
# currency signs, %, magnitudes ("bn", "crore") and dashes all reach the tokenizer as written.
_TYPOGRAPHIC = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2212": "-",
        **{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)},
    }
)


def model_text(text: str) -> str:
    """The text the tokenizer sees; identical in training and inference."""
    unescaped = html.unescape(text).translate(_TYPOGRAPHIC)
    stripped = _SPACE.sub(" ", _URL.sub(" http ", unescaped)).strip()
    return stripped or text.strip()
