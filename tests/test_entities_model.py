"""The entity sentiment pieces on small data: SEntFiN's Decisions cells (apostrophes included),
the split by headline, the pair model's save/load round trip, scoring, and a tiny end-to-end
training run that writes the side-by-side report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from entities.data import (
    EntityDataError,
    examples,
    load_titles,
    parse_decisions,
    split_by_headline,
)
from entities.train import main, report, scores


def test_decisions_cells_parse_with_and_without_apostrophes() -> None:
    assert parse_decisions("{'Tata Steel': 'positive', 'JSW': 'negative'}") == {
        "Tata Steel": "positive",
        "JSW": "negative",
    }
    # Not a valid Python literal: an apostrophe inside single quotes.
    assert parse_decisions("{'Macy's': 'negative', 'Kohl's': 'neutral'}") == {
        "Macy's": "negative",
        "Kohl's": "neutral",
    }
    with pytest.raises(EntityDataError):
        parse_decisions("{'X': 'bullish'}")
    with pytest.raises(EntityDataError):
        parse_decisions("nothing here")


def write_sentfin(directory: Path, copies: int = 6) -> Path:
    """A SEntFiN-shaped entity file and news valid file, in the tiny model's vocabulary."""
    folder = directory / "sentfin-headlines"
    folder.mkdir(parents=True)
    rows, valid = [], []
    for i in range(copies):
        rows.append((f"acme shares soar profit {i}", "{'acme': 'positive'}"))
        rows.append((f"apple shares plunge loss {i}", "{'apple': 'negative'}"))
        rows.append((f"acme up apple down {i}", "{'acme': 'positive', 'apple': 'negative'}"))
        rows.append((f"apple up acme down {i}", "{'apple': 'positive', 'acme': 'negative'}"))
        rows.append((f"the market is acme {i}", "{'acme': 'neutral'}"))
        if i % 3 == 0:
            valid += [f"acme shares soar profit {i}", f"apple shares plunge loss {i}"]
    with (folder / "SEntFiN-entities.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["S No.", "Title", "Decisions", "Words"])
        for n, (title, decisions) in enumerate(rows, start=1):
            w.writerow([n, title, decisions, len(title.split())])
    with (folder / "valid.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows([(t, 0) for t in valid])
    return directory


def test_the_split_keeps_every_headline_on_one_side(tmp_path: Path) -> None:
    data = write_sentfin(tmp_path, copies=30)
    train, valid = split_by_headline(data, mixed_valid_share=0.3)
    assert {e.title for e in train}.isdisjoint({e.title for e in valid})
    assert len(train) + len(valid) == len(examples(load_titles(data)))
    # the headline model's validation titles, and some mixed titles, are held out
    assert {"acme shares soar profit 0", "apple shares plunge loss 3"} <= {e.title for e in valid}
    mixed_valid = [e for e in valid if e.mixed]
    assert mixed_valid and len(mixed_valid) < len([e for e in train if e.mixed])
    assert all(e.entities_in_title == 2 for e in mixed_valid)


def test_the_entity_mention_is_bracketed_once_in_any_case() -> None:
    from entities.sentiment import mark

    assert mark("Tata Steel gains as JSW slips", "jsw") == "Tata Steel gains as [ JSW ] slips"
    assert mark("JSW v JSW", "JSW") == "[ JSW ] v JSW"
    assert mark("no mention", "Acme") == "no mention"


def test_scores_and_the_report_by_subset() -> None:
    assert scores(["negative", "positive", "neutral", "negative"], ["negative"] * 4) == {
        "n": 4,
        "accuracy": 0.5,
        "macro_f1": round((2 / 3) / 3, 4),
    }
    from entities.data import EntityExample

    valid = [
        EntityExample("a up b down", "a", "positive", 2, True),
        EntityExample("a up b down", "b", "negative", 2, True),
        EntityExample("c up", "c", "positive", 1, False),
    ]
    out = report(valid, {"x": ["positive", "positive", "positive"]})
    assert out["overall"]["x"]["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["mixed_sentiment"]["x"]["n"] == 2
    assert out["single_entity"]["x"]["accuracy"] == 1.0


def test_a_tiny_training_run_saves_a_model_that_loads_and_reports(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_sentfin(tmp_path / "data", copies=12)
    out = tmp_path / "entity-model"
    args = ["--output-dir", str(out), "--data-dir", str(data), "--init-from", str(tiny_model_dir)]
    options = ["--epochs", "2", "--batch-size", "8", "--max-length", "24", "--mark-entity"]
    assert main([*args, *options]) == 0
    result = json.loads((out / "eval-valid.json").read_text())
    assert result["model_version"].startswith("ent-")
    for subset in ("overall", "single_entity", "multi_entity", "mixed_sentiment"):
        assert set(result["valid"][subset]) == {"entity_model", "headline_baseline"}
    assert "| mixed sentiment |" in capsys.readouterr().out

    from entities.sentiment import EntitySentiment

    engine = EntitySentiment.from_dir(out)
    assert engine.model.config.mark_entity
    pairs = [("acme", "acme up apple down 1"), ("apple", "acme up apple down 1"), ("acme", "x")]
    verdicts = engine.predict(pairs)
    assert [v.model_version for v in verdicts] == [result["model_version"]] * 3
    assert all(v.sentiment in ("negative", "neutral", "positive") for v in verdicts)
    # batching and order do not change a pair's verdict (padding may move the last digits)
    reordered = engine.predict(pairs[::-1])[::-1]
    alone = engine.predict(pairs[1:2])[0]
    assert [v.sentiment for v in reordered] == [v.sentiment for v in verdicts]
    assert [v.confidence for v in reordered] == pytest.approx([v.confidence for v in verdicts])
    assert alone.confidence == pytest.approx(verdicts[1].confidence, abs=1e-5)
    assert engine.predict([]) == []

    # int8 weights (the default where a CPU lacks native bf16): its own version, its Linear
    # layers quantised, probabilities close to fp32's; bf16 with it, or a GPU, is refused.
    import torch

    small = EntitySentiment.from_dir(out, int8=True)
    assert small.version == f"{result['model_version']}-int8"
    assert not any(type(m) is torch.nn.Linear for m in small.model.modules())
    quantised = small.predict(pairs)
    assert [v.model_version for v in quantised] == [small.version] * 3
    assert [v.negative_probability for v in quantised] == pytest.approx(
        [v.negative_probability for v in verdicts], abs=0.05
    )
    with pytest.raises(ValueError, match="choose one"):
        EntitySentiment.from_dir(out, int8=True, bf16=True)
