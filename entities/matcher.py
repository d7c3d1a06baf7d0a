"""Find watchlist entities in a headline: one Aho-Corasick pass over the normalised title.

Normalisation makes matching punctuation-aware without regexes per entity: the title is split
into tokens of letters, digits, ``&`` and ``$`` ("AT&T", "$SHEL" stay one token; "Shell's"
becomes "shell s", "Coca-Cola" "coca cola"), accents are folded ("Nestlé" = "Nestle") and
tokens are joined by single spaces. Every alias is normalised the same way and searched with a
space on each side, so a match always covers whole tokens: "Shell" never matches inside
"Shellfish", and "Shell's" matches "Shell".

What matches, per entity:

* aliases (the name included), in any capitalisation;
* ``case_sensitive_aliases`` and every alias of at most three letters only in exactly their
  capitalisation: "BP" is the company, "25 bp" is basis points;
* ``$TICKER`` cashtags in any capitalisation;
* bare tickers only in capitals, at least two characters long, and not a common capitalised
  word (``AMBIGUOUS_TICKERS``): "XOM" is Exxon, "IT" is not Gartner. One-letter tickers ("F")
  match as cashtags or through the tickers ingest extracted (``(NYSE: F)``).

Overlapping names resolve to the leftmost, then longest match: in "Bank of America cuts jobs"
the match is Bank of America, not America. An alias that two entities share names both.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import ahocorasick

from entities.watchlist import Entity, Watchlist

TOKEN = re.compile(r"(?:[^\W_]|[&$])+")
SHORT_ALIAS = 3  # aliases this short (in letters and digits) must match their capitalisation
# Capitalised words headlines use that are also someone's ticker: never matched bare.
AMBIGUOUS_TICKERS = frozenset(
    "A AI ALL AM AN ARE AS AT BE BIG BY CAN CEO CFO DO EPS ETF EU FED FOR FY GDP GO HAS IMF "
    "IN IPO IS IT M&A NEW NOW OF ON ONE OR OUT Q1 Q2 Q3 Q4 SO TO UK UN UP US USA WHO".split()
)


class Kind(Enum):
    ALIAS = "alias"  # any capitalisation
    EXACT = "exact"  # this capitalisation only
    CASHTAG = "cashtag"
    TICKER = "ticker"  # bare ticker: capitals only


@dataclass(frozen=True, slots=True)
class EntityMatch:
    """One entity named in a headline: where (``start``/``end`` in the original title; -1 for a
    ticker ingest extracted that the title does not spell out) and as what text."""

    entity: Entity
    matched_text: str
    start: int
    end: int

    @property
    def entity_id(self) -> str:
        return self.entity.id


@dataclass(frozen=True, slots=True)
class _Pattern:
    entity: int  # index into the matcher's entities
    kind: Kind
    cased: str  # the pattern's normalised tokens with their capitalisation (EXACT, TICKER)
    tokens: int  # how many tokens it spans


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    """One character without its accent, lower-cased, always one character (offsets stay 1:1)."""
    base = unicodedata.normalize("NFKD", char)
    if len(base) > 1 and all(unicodedata.combining(c) for c in base[1:]):
        char = base[0]
    return char


def _lower(text: str) -> str:
    if text.isascii():
        return text.lower()
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _folded(text: str) -> str:
    return text if text.isascii() else "".join(map(_fold, text))


def normalise(text: str) -> list[str]:
    """The tokens of ``text`` as matching sees them, capitalisation kept."""
    return TOKEN.findall(_folded(text))


class Matcher:
    """Built once from a watchlist (tens of milliseconds for thousands of entities); ``match``
    is thread-safe (the automaton is read-only after ``make_automaton``)."""

    def __init__(self, watchlist: Watchlist) -> None:
        self.entities: tuple[Entity, ...] = watchlist.entities
        self._by_ticker: dict[str, list[int]] = {}
        patterns: dict[str, list[_Pattern]] = {}
        for index, entity in enumerate(self.entities):
            for key, pattern in self._patterns(index, entity):
                patterns.setdefault(key, [])
                if pattern not in patterns[key]:
                    patterns[key].append(pattern)
            for ticker in entity.tickers:
                self._by_ticker.setdefault(ticker.upper(), []).append(index)
        self._automaton = ahocorasick.Automaton()
        for key, found in patterns.items():
            self._automaton.add_word(key, tuple(found))
        if patterns:
            self._automaton.make_automaton()
        self._empty = not patterns

    def __len__(self) -> int:
        return len(self.entities)

    @staticmethod
    def _patterns(index: int, entity: Entity) -> Iterable[tuple[str, _Pattern]]:
        def pattern(text: str, kind: Kind) -> tuple[str, _Pattern] | None:
            tokens = normalise(text)
            if not tokens:
                return None
            cased = " ".join(tokens)
            if kind is Kind.ALIAS and sum(c.isalnum() for c in cased) <= SHORT_ALIAS:
                kind = Kind.EXACT
            return f" {_lower(cased)} ", _Pattern(index, kind, cased, len(tokens))

        candidates = [pattern(entity.name, Kind.ALIAS)]
        candidates += [pattern(a, Kind.ALIAS) for a in entity.aliases]
        candidates += [pattern(a, Kind.EXACT) for a in entity.case_sensitive_aliases]
        for ticker in entity.tickers:
            candidates.append(pattern(f"${ticker}", Kind.CASHTAG))
            if len(ticker) >= 2 and ticker not in AMBIGUOUS_TICKERS:
                candidates.append(pattern(ticker, Kind.TICKER))
        return [c for c in candidates if c is not None]

    def match(self, title: str, tickers: Sequence[str] = ()) -> list[EntityMatch]:
        """The watchlist entities ``title`` names, each once, in order of first mention;
        ``tickers`` (those ingest extracted) add entities the title names only by exchange
        ticker."""
        found = [] if self._empty else self._match_title(title)
        named = {m.entity.id for m in found}
        for ticker in tickers:
            for index in self._by_ticker.get(ticker.upper(), ()):
                entity = self.entities[index]
                if entity.id not in named:
                    named.add(entity.id)
                    found.append(EntityMatch(entity, ticker.upper(), -1, -1))
        return found

    def _match_title(self, title: str) -> list[EntityMatch]:
        folded = _folded(title)
        spans = [(m.start(), m.end()) for m in TOKEN.finditer(folded)]
        if not spans:
            return []
        cased_tokens = [folded[s:e] for s, e in spans]
        joined = " ".join(_lower(t) for t in cased_tokens)
        starts = []  # offset of each token in ``joined``
        offset = 0
        for token in cased_tokens:
            starts.append(offset)
            offset += len(token) + 1
        # (first token, token count, pattern), from the automaton's (end offset, patterns).
        candidates: list[tuple[int, int, _Pattern]] = []
        for end, found in self._automaton.iter(f" {joined} "):
            for p in found:
                first = _first_token(starts, end, p)
                cased = " ".join(cased_tokens[first : first + p.tokens])
                if _accepts(p, cased):
                    candidates.append((first, p.tokens, p))
        # Leftmost first, then longest; a match overlapping an earlier kept one is dropped,
        # except that one span may name several entities (a shared alias).
        candidates.sort(key=lambda c: (c[0], -c[1]))
        kept: list[tuple[int, int, _Pattern]] = []
        taken_until = -1
        for first, count, p in candidates:
            if kept and (first, count) == kept[-1][:2]:
                kept.append((first, count, p))
            elif first > taken_until:
                kept.append((first, count, p))
                taken_until = first + count - 1
        matches: list[EntityMatch] = []
        named: set[int] = set()
        for first, count, p in kept:
            if p.entity in named:
                continue
            named.add(p.entity)
            start, end = spans[first][0], spans[first + count - 1][1]
            matches.append(EntityMatch(self.entities[p.entity], title[start:end], start, end))
        return matches


def _first_token(starts: list[int], end: int, p: _Pattern) -> int:
    """The token a match starts at. ``end`` is the offset (in " joined ") of the key's closing
    space; the key is " " + cased + " ", so the match's first character in ``joined`` is
    ``end - 1 - len(cased)``."""
    return bisect.bisect_left(starts, end - 1 - len(p.cased))


def _accepts(p: _Pattern, cased: str) -> bool:
    if p.kind in (Kind.ALIAS, Kind.CASHTAG):
        return True
    if p.kind is Kind.EXACT:
        return cased == p.cased
    return cased == p.cased.upper()  # a bare ticker, in capitals
