"""The watchlist loader and the entity matcher on the cases that trip naive matching: common
words as aliases, possessives, overlapping names, word boundaries, tickers and cashtags."""

from __future__ import annotations

from pathlib import Path

import pytest

from entities.matcher import Matcher
from entities.watchlist import Entity, Watchlist, WatchlistError, load_watchlist

EXAMPLE = Path(__file__).resolve().parent.parent / "entities" / "watchlists" / "example.yaml"

WATCHLIST = Watchlist(
    (
        Entity("shell", "Shell plc", ("SHEL",), ("Royal Dutch Shell",), ("Shell",)),
        Entity("bac", "Bank of America", ("BAC",), ("BofA",)),
        Entity("amx", "America Movil", ("AMX",), ("America",)),
        Entity("bp", "BP plc", ("BP",), ("BP",)),
        Entity("att", "AT&T", ("T",)),
        Entity("nestle", "Nestlé", ("NESN",)),
        Entity("gartner", "Gartner", ("IT",)),
        Entity("coke", "Coca-Cola", ("KO",), ("Coke",)),
        Entity("target", "Target Corporation", ("TGT",), (), ("Target",)),
    )
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(WATCHLIST)


def names(matcher: Matcher, title: str, tickers: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [(m.entity_id, m.matched_text) for m in matcher.match(title, tickers)]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Royal Dutch Shell profit falls", [("shell", "Royal Dutch Shell")]),
        ("SHELL PLC to buy back shares", [("shell", "SHELL PLC")]),
        ("Shell plc raises dividend", [("shell", "Shell plc")]),
        ("$SHEL slides as crude drops", [("shell", "$SHEL")]),
        ("$shel slides", [("shell", "$shel")]),
        ("SHEL slides in London", [("shell", "SHEL")]),
        # possessives, straight and typographic
        ("Shell's refinery shut", [("shell", "Shell")]),
        ("Shell’s refinery shut", [("shell", "Shell")]),
        # a common word in lower case is not the company, and a word containing it neither
        ("Regulators probe shell companies", []),
        ("Shellfish exports rise", []),
        ("Targeted tariffs hit imports; target missed", []),
        ("Target cuts outlook", [("target", "Target")]),
        # overlapping names: the longest wins, the shorter one still matches on its own
        ("Bank of America cuts jobs", [("bac", "Bank of America")]),
        (
            "Bank of America to expand in Latin America",
            [("bac", "Bank of America"), ("amx", "America")],
        ),
        # short aliases keep their case: basis points are not BP
        ("Yields rise 25 bp; BP shares fall", [("bp", "BP")]),
        ("yields rise 25 bp", []),
        # punctuation inside names
        ("AT&T to sell stake", [("att", "AT&T")]),
        ("Coca Cola and Coca-Cola's bottler", [("coke", "Coca Cola")]),
        # accents folded
        ("Nestle recalls baby food", [("nestle", "Nestle")]),
        ("Nestlé recalls baby food", [("nestle", "Nestlé")]),
        # tickers that are ordinary capitalised words never match bare
        ("IT spending slows, says Gartner", [("gartner", "Gartner")]),
        ("IT spending slows", []),
        ("One-letter T is no match", []),
        ("$T and $IT move", [("att", "$T"), ("gartner", "$IT")]),
        # one entity named twice is one match, at its first mention
        ("Shell v Shell: Royal Dutch Shell sues", [("shell", "Shell")]),
        ("", []),
    ],
)
def test_tricky_cases(matcher: Matcher, title: str, expected: list[tuple[str, str]]) -> None:
    assert names(matcher, title) == expected


def test_spans_point_into_the_original_title(matcher: Matcher) -> None:
    title = "Oil:  Royal   Dutch Shell’s  profit"
    (m,) = matcher.match(title)
    assert title[m.start : m.end] == m.matched_text == "Royal   Dutch Shell"


def test_tickers_from_ingest_add_entities_the_title_names_by_exchange_ticker(
    matcher: Matcher,
) -> None:
    assert names(matcher, "Telecom giant cuts 5,000 jobs", ("T",)) == [("att", "T")]
    # already named in the title: not twice
    assert names(matcher, "AT&T cuts jobs", ("T",)) == [("att", "AT&T")]


def test_an_alias_two_entities_share_names_both() -> None:
    shared = Matcher(
        Watchlist((Entity("a", "Acme Corp", (), ("Acme",)), Entity("b", "Acme Ltd", (), ("Acme",))))
    )
    assert names(shared, "Acme profit jumps") == [("a", "Acme"), ("b", "Acme")]


def test_the_shipped_example_watchlist_loads_and_matches() -> None:
    watchlist = load_watchlist(EXAMPLE)
    assert len(watchlist) >= 20
    matcher = Matcher(watchlist)
    assert names(matcher, "Tata Steel gains as JSW slips") == [
        ("tata-steel", "Tata Steel"),
        ("jsw-steel", "JSW"),
    ]
    assert names(matcher, "Reliance's RIL unit; reliance on imports") == [("reliance", "Reliance")]


def test_yaml_and_csv_watchlists_agree(tmp_path: Path) -> None:
    yaml_path = tmp_path / "w.yaml"
    yaml_path.write_text(
        "entities:\n"
        "  - id: shell\n    name: Shell plc\n    tickers: [shel]\n"
        "    aliases: [Royal Dutch Shell]\n    case_sensitive_aliases: [Shell]\n"
        "  - id: bac\n    name: Bank of America\n    tickers: BAC\n"
    )
    csv_path = tmp_path / "w.csv"
    csv_path.write_text(
        "id,name,tickers,aliases,case_sensitive_aliases\n"
        "shell,Shell plc,SHEL,Royal Dutch Shell,Shell\n"
        'bac,"Bank of America",BAC,,\n'
    )
    from_yaml, from_csv = load_watchlist(yaml_path), load_watchlist(csv_path)
    assert from_yaml == from_csv
    assert from_yaml.entities[0].tickers == ("SHEL",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("entities:\n  - id: Bad Id\n    name: X\n", "id 'Bad Id'"),
        ("entities:\n  - id: x\n", "has no name"),
        ("entities:\n  - {id: x, name: X}\n  - {id: x, name: Y}\n", "duplicate id 'x'"),
        ("entities:\n  - {id: x, name: X, tickers: ['$$']}\n", "is not a ticker"),
        ("entities:\n  - {id: x, name: X, aliases: [1]}\n", "'aliases' must be"),
        ("companies: []\n", "top-level 'entities:'"),
        ("entities: [\n", "not valid YAML"),
    ],
)
def test_invalid_watchlists_say_where(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(body)
    with pytest.raises(WatchlistError, match=message):
        load_watchlist(path)


def test_missing_or_unknown_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match="cannot read"):
        load_watchlist(tmp_path / "none.yaml")
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(WatchlistError, match=r"\.yaml, \.yml or \.csv"):
        load_watchlist(tmp_path / "w.txt")


def test_an_empty_watchlist_matches_nothing() -> None:
    assert Matcher(Watchlist()).match("Shell plc", ("SHEL",)) == []
