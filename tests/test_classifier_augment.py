"""Teacher-labelled perturbed copies (`--augment`) and spliced headlines (`--splice`): what
they are made of, that every training seed shares them and the teachers' scores of them, and
that a student trained with them still learns."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from classify.training import distill
from classify.training.augment import MIN_WORDS, augmented_texts, perturb, spliced_texts
from classify.training.config import TrainConfigError
from classify.training.data import holdout, load_split
from classify.training.train import train
from tests.tiny_model import build_tiny_base, toy_config, write_toy_data

HEADLINES = [
    f"{company} shares {move} after {event} https://t.co/{i:04d}"
    for i, (company, move, event) in enumerate(
        (c, m, e)
        for c in ("Acme", "Globex", "Initech", "Umbrella", "Hooli")
        for m in ("plunge", "soar", "slip", "edge up")
        for e in ("profit warning", "dividend hike", "merger talks", "Fed decision", "guidance")
    )
]


def test_copies_are_reproducible_and_do_not_depend_on_anything_but_texts_and_seed() -> None:
    first = augmented_texts(HEADLINES, 1.0, seed=13)
    assert first == augmented_texts(HEADLINES, 1.0, seed=13)
    assert first != augmented_texts(HEADLINES, 1.0, seed=14)


def test_copies_differ_from_their_text_and_use_only_the_corpus_words() -> None:
    originals = {" ".join(h.split()) for h in HEADLINES}
    corpus = {w for h in HEADLINES for w in h.split()}
    copies = augmented_texts(HEADLINES, 2.0, seed=1)
    # Whole copies per text: every text of MIN_WORDS or more words gets exactly that many.
    assert len(copies) == 2 * len(HEADLINES)
    assert not originals & set(copies)
    for copy in copies:
        assert set(copy.split()) <= corpus, copy
    # A link is never drawn as a replacement: a copy holds at most its own text's one link.
    assert all(sum(w.startswith("https://") for w in c.split()) <= 1 for c in copies)


def test_a_fraction_copies_that_share_of_the_texts() -> None:
    texts = HEADLINES * 8  # 800 texts
    copies = augmented_texts(texts, 0.5, seed=3)
    assert 330 <= len(copies) <= 470  # binomial(800, 0.5): far outside ±5 standard deviations
    assert augmented_texts(texts, 0.0, seed=3) == []


def test_short_texts_are_not_copied_and_a_negative_count_is_refused() -> None:
    short = ["Stocks up", "Oil", ""]
    assert MIN_WORDS == 3
    assert augmented_texts(short, 3.0, seed=0) == []
    with pytest.raises(ValueError, match="0 or more"):
        augmented_texts(HEADLINES, -1.0, seed=0)


def test_a_copy_keeps_at_least_one_word_even_when_every_draw_drops() -> None:
    class AlwaysLow(random.Random):
        def random(self) -> float:
            return 0.0  # below every threshold: drop everything, replace, swap

    copy = perturb(["fed", "cuts", "rates"], AlwaysLow(0), ["oil"])
    assert copy.split() and set(copy.split()) <= {"fed", "cuts", "rates", "oil"}


def test_a_splice_opens_like_one_headline_and_closes_like_another() -> None:
    splices = spliced_texts(HEADLINES, 1.0, seed=5)
    assert splices == spliced_texts(HEADLINES, 1.0, seed=5)
    assert splices != spliced_texts(HEADLINES, 1.0, seed=6)
    originals = [h.split() for h in HEADLINES]
    # One per headline, less the few that re-make a headline (two share an opening): dropped.
    assert 0.9 * len(HEADLINES) <= len(splices) < len(HEADLINES)
    assert not {" ".join(o) for o in originals} & set(splices)
    for splice in splices:
        words = splice.split()
        # Some cut of some text gives the opening, and a cut of another the close.
        pairs = [
            (a, b)
            for a, head in enumerate(originals)
            for b, tail in enumerate(originals)
            for i in range(1, len(head))
            if a != b and words[:i] == head[:i] and words[i:] == tail[len(tail) - len(words) + i :]
        ]
        assert pairs, splice


def test_splices_cut_before_a_linking_word_where_there_is_one() -> None:
    texts = ["Acme shares tumble after profit warning", "Globex rallies on merger news"]
    splices = spliced_texts(texts * 20, 1.0, seed=0)
    # Each text has one linking word, so a splice of two copies of a text is that text again,
    # and dropped; the two texts cross only one way each.
    assert set(splices) == {
        "Acme shares tumble on merger news",
        "Globex rallies after profit warning",
    }
    assert spliced_texts(["Oil up", "Fed"], 2.0, seed=0) == []  # under MIN_WORDS: no ends
    with pytest.raises(ValueError, match="0 or more"):
        spliced_texts(HEADLINES, -1.0, seed=0)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = build_tiny_base(tmp_path_factory.mktemp("base"))
    data = write_toy_data(tmp_path_factory.mktemp("data"))
    return base, data


def test_augmenting_without_teachers_is_refused(toy: tuple[Path, Path], tmp_path: Path) -> None:
    base, data = toy
    with pytest.raises(TrainConfigError, match="teachers"):
        train(toy_config(base, data, tmp_path / "x", augment=1.0))
    with pytest.raises(TrainConfigError, match="0 or more"):
        train(toy_config(base, data, tmp_path / "y", teachers=[tmp_path], augment=-0.5))
    with pytest.raises(TrainConfigError, match="splice needs teachers"):
        train(toy_config(base, data, tmp_path / "x", splice=1.0))
    assert not (tmp_path / "x").exists()


def test_a_student_trained_on_copies_learns_and_other_seeds_reuse_their_scores(
    toy: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, data = toy
    teacher = tmp_path / "teacher"
    train(toy_config(base, data, teacher, epochs=6))
    cache = tmp_path / "cache"
    common = {"teachers": [teacher], "teacher_cache": cache, "epochs": 4}
    plain = train(toy_config(base, data, tmp_path / "plain", **common))

    scored: list[int] = []  # how many texts each call really scored (cache misses)
    score_all = distill._score_all

    def counting(teachers: object, texts: list[str], *args: object) -> object:
        scored.append(len(texts))
        return score_all(teachers, texts, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(distill, "_score_all", counting)
    student = train(toy_config(base, data, tmp_path / "student", augment=1.0, **common))

    # One copy per train row: twice the rows, so twice the steps for the same epochs; and
    # only the copies were scored, the originals' scores came from the plain run's entry.
    topic, sentiment = load_split(data, "train")
    cfg = toy_config(base, data, tmp_path / "unused")
    train_rows, _ = holdout(topic + sentiment, cfg.holdout_fraction, cfg.holdout_seed)
    assert plain.steps == 4 * math.ceil(len(train_rows) / cfg.batch_size)
    assert student.steps == 4 * math.ceil(2 * len(train_rows) / cfg.batch_size)
    assert scored == [len(train_rows)]  # every toy text has MIN_WORDS or more: one copy each
    assert student.holdout["topic"]["accuracy"] == 1.0
    assert student.holdout["sentiment"]["accuracy"] == 1.0
    record = json.loads((tmp_path / "student" / "training.json").read_text())
    assert record["hyperparameters"]["augment"] == 1.0

    # Another seed, the same copies: nothing is scored again.
    other = train(toy_config(base, data, tmp_path / "seed7", augment=1.0, seed=7, **common))
    assert other.steps == student.steps
    assert len(scored) == 1

    # Splices instead: the teachers score them (the originals again from the cache), and
    # they add rows. The toy texts repeat, so many splices equal a text and are dropped.
    spliced = train(toy_config(base, data, tmp_path / "spliced", splice=1.0, **common))
    assert len(scored) == 2 and 0 < scored[1] < len(train_rows)
    assert spliced.steps == 4 * math.ceil((len(train_rows) + scored[1]) / cfg.batch_size)
    assert spliced.holdout["sentiment"]["accuracy"] == 1.0
    record = json.loads((tmp_path / "spliced" / "training.json").read_text())
    assert (
        record["hyperparameters"]["splice"] == 1.0
        and "splice"
        not in json.loads((tmp_path / "plain" / "training.json").read_text())["hyperparameters"]
    )
