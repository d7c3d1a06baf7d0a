"""The classify stage's entity step without Kafka: which headlines get rows, where each
verdict comes from, and what happens when the entity model fails or is absent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from entities.matcher import Matcher
from entities.sentiment import EntityVerdict
from entities.tagger import EntityTagger
from entities.watchlist import Entity, Watchlist
from tapewatch.events import ClassifiedHeadline, Headline

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WATCHLIST = Watchlist(
    (
        Entity("tata-steel", "Tata Steel", ("TATASTEEL",)),
        Entity("jsw-steel", "JSW Steel", ("JSWSTEEL",), ("JSW",)),
    )
)


class Towards:
    """A stand-in entity model: negative towards JSW, positive towards anything else."""

    version = "ent-test"
    calls: list[list[tuple[str, str]]]

    def __init__(self, fail: bool = False) -> None:
        self.calls = []
        self.fail = fail

    def predict(self, pairs: Sequence[tuple[str, str]]) -> list[EntityVerdict]:
        self.calls.append(list(pairs))
        if self.fail:
            raise RuntimeError("out of memory")
        return [
            EntityVerdict("negative", 0.8, 0.8, self.version)
            if e == "JSW"
            else EntityVerdict("positive", 0.7, 0.1, self.version)
            for e, _ in pairs
        ]


def classified(
    i: int, title: str, tickers: tuple[str, ...] = ()
) -> tuple[Headline, ClassifiedHeadline]:
    h = Headline(
        id=f"{i:032x}", source="t", title=title, url=None, published_at=NOW, ingested_at=NOW,
        tickers=list(tickers),
    )  # fmt: skip
    c = ClassifiedHeadline(
        headline_id=h.id, source="t", title=title, url=None, published_at=NOW,
        topic="Stock Movement", topic_confidence=0.9, sentiment="neutral",
        sentiment_confidence=0.6,
        probabilities={"sentiment": {"negative": 0.3, "neutral": 0.6, "positive": 0.1}},
        model_version="m1", classified_at=NOW,
    )  # fmt: skip
    return h, c


BATCH = [
    classified(1, "Tata Steel gains as JSW slips"),
    classified(2, "Tata Steel to raise prices"),
    classified(3, "Sensex ends flat"),
    classified(4, "Steel stocks mixed", ("JSWSTEEL",)),
]


def tag(tagger: EntityTagger) -> list[tuple[str, str, str, str, str]]:
    rows = tagger.tag([h for h, _ in BATCH], [c for _, c in BATCH])
    return [(r.headline_id[-1], r.entity_id, r.sentiment, r.method, r.model_version) for r in rows]


def test_one_entity_takes_the_headline_sentiment_several_get_the_entity_model() -> None:
    model = Towards()
    assert sorted(tag(EntityTagger(Matcher(WATCHLIST), model))) == [
        ("1", "jsw-steel", "negative", "entity_model", "ent-test"),
        ("1", "tata-steel", "positive", "entity_model", "ent-test"),
        ("2", "tata-steel", "neutral", "headline", "m1"),
        ("4", "jsw-steel", "neutral", "headline", "m1"),
    ]
    # one call per batch, with the entity as the title spells it
    assert model.calls == [
        [("Tata Steel", "Tata Steel gains as JSW slips"), ("JSW", "Tata Steel gains as JSW slips")]
    ]


def test_without_a_working_entity_model_entities_get_the_headline_sentiment() -> None:
    expected = [
        ("1", "tata-steel", "neutral", "headline", "m1"),
        ("1", "jsw-steel", "neutral", "headline", "m1"),
        ("2", "tata-steel", "neutral", "headline", "m1"),
        ("4", "jsw-steel", "neutral", "headline", "m1"),
    ]
    assert sorted(tag(EntityTagger(Matcher(WATCHLIST), None))) == sorted(expected)
    assert sorted(tag(EntityTagger(Matcher(WATCHLIST), Towards(fail=True)))) == sorted(expected)


def test_the_entity_model_loads_only_when_a_headline_names_several_entities() -> None:
    loads: list[int] = []

    def load() -> Towards:
        loads.append(1)
        return Towards()

    tagger = EntityTagger(Matcher(WATCHLIST), load)
    tagger.tag([BATCH[1][0]], [BATCH[1][1]])
    assert loads == []
    tag(tagger)
    tag(tagger)
    assert loads == [1]


def test_process_batch_tags_the_classified_headlines_only() -> None:
    from classify.results import Prediction
    from classify.stage import process_batch

    def predict(texts: Sequence[str]) -> list[Prediction]:
        return [
            Prediction(t, "Stock Movement", 0.9, "negative", 0.7,
                       {"sentiment": {"negative": 0.7, "neutral": 0.2, "positive": 0.1}}, "m1")
            for t in texts
        ]  # fmt: skip

    messages = [(h.id.encode(), h.to_json()) for h, _ in BATCH] + [(b"x", b"not json")]
    outcome = process_batch(messages, predict, tag=EntityTagger(Matcher(WATCHLIST), Towards()).tag)
    assert len(outcome.results) == 4 and len(outcome.dead) == 1
    assert sorted((r.headline_id[-1], r.entity_id, r.method) for r in outcome.entities) == [
        ("1", "jsw-steel", "entity_model"),
        ("1", "tata-steel", "entity_model"),
        ("2", "tata-steel", "headline"),
        ("4", "jsw-steel", "headline"),
    ]
    headline_row = next(r for r in outcome.entities if r.headline_id.endswith("2"))
    assert (headline_row.sentiment, headline_row.negative_probability) == ("negative", 0.7)
    assert process_batch(messages, predict).entities == []  # no watchlist: no entity step


def test_the_model_file_names_the_tagger_checks_are_the_models() -> None:
    from entities import model, tagger

    assert (model.CONFIG, model.WEIGHTS) == tagger.MODEL_FILES


def test_every_row_names_its_pass_and_the_entitys_tickers() -> None:
    """Migration 0008: the rows carry the headline model of the pass that wrote them (the
    active-version rule keys on it, entity-model rows too) and the watchlist's tickers."""
    rows = EntityTagger(Matcher(WATCHLIST), Towards()).tag(
        [h for h, _ in BATCH], [c for _, c in BATCH]
    )
    assert {r.headline_model_version for r in rows} == {"m1"}
    assert {r.entity_id: r.entity_tickers for r in rows} == {
        "tata-steel": ("TATASTEEL",),
        "jsw-steel": ("JSWSTEEL",),
    }
