"""Tweets read as headlines (classify/training/headline_style.py and a source's ``style``):
what is taken off, what must stay, and that a restyled row never lands on the other side of
the holdout from its tweet."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from classify.labels import TOPICS
from classify.training.data import holdout, load_source, load_sources
from classify.training.headline_style import headline_style
from classify.training.sources import (
    DEFAULT_SOURCES,
    EVALUATION_SOURCES,
    HEADLINE_TOPIC_SOURCE,
    SourceError,
    parse_sources,
)


@pytest.mark.parametrize(
    ("tweet", "headline"),
    [
        (
            "$BAC: Bank of America increases quarterly dividend to $0.22/share from $0.21/share"
            "  https://t.co/kMWilvHcP9",
            "Bank of America increases quarterly dividend to $0.22/share from $0.21/share",
        ),
        (
            "$SWK: Stanley Black &amp; Decker increases quarterly dividend by a penny",
            "Stanley Black & Decker increases quarterly dividend by a penny",
        ),
        (
            "RT @markets: Oil jumps 3% as #OPEC agrees output cut https://t.co/x",
            "Oil jumps 3% as OPEC agrees output cut",
        ),
        ("$SPY $QQQ - futures slide before the Fed", "futures slide before the Fed"),
        (
            "Apple and $MSFT lead a tech rally; $TSLA falls -3.2%",
            "Apple and MSFT lead a tech rally; TSLA falls -3.2%",
        ),
        (
            "Community Bank raises its dividend 2.3% to $0.44/share, payable on October 10...",
            "Community Bank raises its dividend 2.3% to $0.44/share, payable on October 10",
        ),
    ],
)
def test_the_tweets_dress_comes_off_and_its_news_stays(tweet: str, headline: str) -> None:
    assert headline_style(tweet) == headline


@pytest.mark.parametrize(
    "headline",
    [
        "Zylog Systems Q2 net loss at Rs 91.63 crore",
        "Umbrella Corp Wins £2bn Defence Contract",
        'Acme shares fall 3.2% after "disappointing" guidance',
        "Fed raises rates by 75 bp; yields hit $4.5 trillion mark",
        "BofA halts buybacks, dividend increase on stress-test error",
    ],
)
def test_a_headline_is_left_as_it_is(headline: str) -> None:
    # Money, magnitudes, signs, quotes and case carry meaning; a headline has no dress to lose.
    assert headline_style(headline) == headline


def test_a_tweet_of_tickers_alone_keeps_them() -> None:
    assert headline_style("$AAPL $MSFT") == "AAPL MSFT"
    assert headline_style("https://t.co/abc") == "https://t.co/abc"  # nothing else to read


def _topic_file(directory: Path, rows: list[tuple[str, int]]) -> None:
    folder = directory / "twitter-financial-news-topic"
    folder.mkdir(parents=True)
    for split in ("train", "valid"):
        with (folder / f"{split}.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(rows)


def test_a_headline_style_source_reads_the_same_file_restyled(tmp_path: Path) -> None:
    _topic_file(tmp_path, [("$BAC: Bank of America raises dividend https://t.co/a", 4)])
    (row,) = load_source(tmp_path, HEADLINE_TOPIC_SOURCE, "valid")
    assert row.text == "Bank of America raises dividend"
    assert row.origin == "$BAC: Bank of America raises dividend https://t.co/a"
    assert TOPICS[row.topic] == "Dividend"
    (plain,) = load_source(tmp_path, DEFAULT_SOURCES[0], "valid")
    assert plain.text == row.origin and plain.origin == ""
    # eval and compare report it beside the sources trained on by default
    assert EVALUATION_SOURCES[-1] is HEADLINE_TOPIC_SOURCE
    assert EVALUATION_SOURCES[: len(DEFAULT_SOURCES)] == DEFAULT_SOURCES


def test_a_source_style_is_declared_in_json_and_checked() -> None:
    (source,) = parse_sources([HEADLINE_TOPIC_SOURCE.to_json()])
    assert source == HEADLINE_TOPIC_SOURCE
    with pytest.raises(SourceError, match="style must be one of as-written, headline"):
        parse_sources([{**HEADLINE_TOPIC_SOURCE.to_json(), "style": "shouty"}])


def test_a_restyled_row_goes_where_its_tweet_went_in_the_holdout(tmp_path: Path) -> None:
    rows = [(f"$T{i}: Company {i} raises dividend https://t.co/{i}", 4) for i in range(60)]
    rows += [(f"$T{i}: Company {i} names a new CFO", 17) for i in range(60, 100)]
    _topic_file(tmp_path, rows)
    sources = (DEFAULT_SOURCES[0], replace(HEADLINE_TOPIC_SOURCE, weight=0.5))
    loaded = load_sources(tmp_path, "train", sources)
    # The restyled source declared first: its rows still follow the tweets, split first.
    examples = loaded["twitter-topic-headlines"] + loaded["twitter-topic"]
    train, held = holdout(examples, 0.2, seed=13)
    held_tweets = {ex.text for ex in held if not ex.origin}
    assert len(held_tweets) == 20  # a fifth of the tweets, per class
    assert {ex.origin for ex in held if ex.origin} == held_tweets
    assert not {ex.origin for ex in train if ex.origin} & held_tweets
    # The tweets' own split is what it was without the restyled source beside them.
    alone_train, alone_held = holdout(loaded["twitter-topic"], 0.2, seed=13)
    assert [ex.text for ex in held if not ex.origin] == [ex.text for ex in alone_held]
    assert [ex.text for ex in train if not ex.origin] == [ex.text for ex in alone_train]
