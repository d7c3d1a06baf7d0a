"""The classifier on a tiny random BERT: heads, masked loss, bucketing, determinism, bad input,
save/load and the model version."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from classify.batching import length_grouped_batches, pad, sorted_batches
from classify.labels import IGNORE, SENTIMENTS, TOPICS
from classify.model import load_model, model_version, multitask_loss, new_model, save_model
from classify.predictor import Prediction, PredictionError, Predictor
from classify.sanitize import MAX_CHARS, clean, model_text
from classify.training.distill import distillation_loss, soften
from tests.tiny_model import build_tiny_base


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    base = build_tiny_base(tmp_path_factory.mktemp("tiny-base"))
    model, tokenizer = new_model(str(base), max_length=32, head_dropout=0.1)
    out = tmp_path_factory.mktemp("tiny-model")
    save_model(model, tokenizer, out)
    return out


@pytest.fixture(scope="module")
def predictor(tiny_dir: Path) -> Predictor:
    return Predictor.from_dir(tiny_dir, device="cpu", batch_size=4, threads=1)


def test_heads_have_one_logit_per_label(predictor: Predictor) -> None:
    ids, mask = pad([[2, 5, 6, 3], [2, 7, 3]], pad_id=0)
    t, s = predictor.model(ids, mask)
    assert t.shape == (2, len(TOPICS)) and s.shape == (2, len(SENTIMENTS))


def test_masked_loss_trains_only_the_labelled_head(tiny_dir: Path) -> None:
    model, _, _ = load_model(tiny_dir)
    model.train()
    ids, mask = pad([[2, 5, 6, 3], [2, 7, 8, 3]], pad_id=0)
    t, s = model(ids, mask)
    loss = multitask_loss(t, s, torch.tensor([1, 4]), torch.tensor([IGNORE, IGNORE]))
    loss.backward()
    assert model.topic_head.weight.grad is not None and model.topic_head.weight.grad.abs().sum() > 0
    assert (
        model.sentiment_head.weight.grad is None
        or model.sentiment_head.weight.grad.abs().sum() == 0
    )

    none = multitask_loss(t, s, torch.tensor([IGNORE, IGNORE]), torch.tensor([IGNORE, IGNORE]))
    assert none.item() == 0.0  # not NaN: a batch without labels for either head adds nothing


def test_length_grouped_batches_cover_every_item_once_with_similar_lengths() -> None:
    lengths = [random.Random(1).randint(3, 60) for _ in range(1000)]
    batches = length_grouped_batches(lengths, 32, random.Random(0), group=10)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000))
    spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert sum(spreads) / len(spreads) < 10  # random batches would spread ~50


def test_sorted_batches_and_dynamic_padding() -> None:
    lengths = [5, 2, 9, 2, 7]
    batches = list(sorted_batches(lengths, 2))
    assert batches == [[1, 3], [0, 4], [2]]
    ids, mask = pad([[1, 2], [3, 4, 5]], pad_id=0)
    assert ids.tolist() == [[1, 2, 0], [3, 4, 5]]
    assert mask.tolist() == [[1, 1, 0], [1, 1, 1]]


TEXTS = [
    "fed hike rates",
    "oil crude energy opec barrel prices up in the market and bond yields down",
    "acme profit warning",
    "dividend",
    "apple shares soar on earnings beat and the deal for a merger",
]


def test_results_come_back_in_input_order_independent_of_batching(predictor: Predictor) -> None:
    together = predictor.predict_batch(TEXTS)
    alone = [predictor.predict_batch([t])[0] for t in TEXTS]
    assert [r.text for r in together] == TEXTS
    for a, b in zip(together, alone, strict=True):
        assert isinstance(a, Prediction) and isinstance(b, Prediction)
        for head in ("topic", "sentiment"):
            for label, p in a.probabilities[head].items():
                assert p == pytest.approx(b.probabilities[head][label], abs=1e-4)


def test_cpu_workers_share_a_call_and_change_no_result(tiny_dir: Path) -> None:
    """Two workers: even one small call is split so each gets a bucket, run on the pool's
    threads, and the results are those of one worker, in input order."""
    single = Predictor.from_dir(tiny_dir, device="cpu", batch_size=64, threads=1)
    pair = Predictor.from_dir(tiny_dir, device="cpu", batch_size=64, threads=2, workers=2)
    threads: list[str] = []
    hook = pair.model.register_forward_hook(
        lambda *_: threads.append(threading.current_thread().name)
    )
    try:
        two = pair.predict_batch(TEXTS)
    finally:
        hook.remove()
    # Two buckets (5 rows, not one bucket of 64); which pool thread takes which is up to timing.
    assert len(threads) == 2 and all(name.startswith("tapewatch-infer") for name in threads)
    one = single.predict_batch(TEXTS)
    assert [r.text for r in two] == TEXTS
    for a, b in zip(two, one, strict=True):
        assert type(a) is type(b)
        if isinstance(a, Prediction) and isinstance(b, Prediction):
            assert (a.topic, a.sentiment) == (b.topic, b.sentiment)
            for head in ("topic", "sentiment"):
                for label, prob in a.probabilities[head].items():
                    assert prob == pytest.approx(b.probabilities[head][label], abs=1e-4)
    assert pair.predict_batch(TEXTS) == two


def test_same_input_same_output(predictor: Predictor) -> None:
    assert predictor.predict_batch(TEXTS) == predictor.predict_batch(TEXTS)


def test_prediction_fields(predictor: Predictor) -> None:
    (p,) = predictor.predict_batch(["fed hike rates"])
    assert isinstance(p, Prediction)
    assert p.topic in TOPICS and p.sentiment in SENTIMENTS
    assert p.topic_confidence == max(p.probabilities["topic"].values())
    assert sum(p.probabilities["sentiment"].values()) == pytest.approx(1.0, abs=1e-4)
    assert p.model_version == predictor.version
    assert set(p.to_dict()) >= {
        "text",
        "topic",
        "topic_confidence",
        "sentiment",
        "sentiment_confidence",
        "probabilities",
        "model_version",
    }


def test_bad_items_get_error_records_and_never_fail_the_batch(predictor: Predictor) -> None:
    batch = [
        "",
        "   \t ",
        "fed hike\x00 rates\x07",
        "x " * 20_000,
        "Федрезерв повысил ставку",
        "oil",
    ]
    results = predictor.predict_batch(batch)
    assert len(results) == len(batch)
    assert isinstance(results[0], PredictionError) and results[0].error == "empty text"
    assert isinstance(results[1], PredictionError) and results[1].error == "empty text"
    assert isinstance(results[2], Prediction) and results[2].warnings == ()
    assert isinstance(results[3], Prediction) and "truncated" in results[3].warnings
    assert isinstance(results[4], Prediction) and "non_latin_script" in results[4].warnings
    assert isinstance(results[5], Prediction)
    assert all(r.model_version == predictor.version for r in results)


def test_sanitising_rules() -> None:
    assert clean("a\x00b\x1fc").text == "a b c"
    assert clean("  many   spaces\n\nand lines ").text == "many spaces and lines"
    long = clean("y" * (MAX_CHARS + 5))
    assert long.text is not None and len(long.text) == MAX_CHARS and long.warnings == ("truncated",)
    assert clean("").error == "empty text"
    # A link's random characters go; that there was a link stays, as one word.
    assert model_text("Buy &amp; hold https://t.co/abc123 now") == "Buy & hold http now"
    assert model_text("Fed holds www.example.com/x?y=1") == "Fed holds http"
    assert model_text("&nbsp;") == "&nbsp;"  # never empty


@pytest.mark.parametrize(
    ("headline", "pieces"),
    [
        # Magnitudes, currencies and units reach the encoder whole and in order.
        (
            "Tata Motors Q2 Net Loss Widens To Rs 10.4 Crore",
            ["q", "##2", "net", "loss", "rs", "10", ".", "4", "crore"],
        ),
        ("BP's £2bn buyback lifts shares", ["£2", "##bn", "buy", "##back"]),
        ("Yen slides past ¥150 as euro holds €1.08", ["¥", "##15", "##0", "€"]),
        # The sign of a move survives, the typographic minus included.
        ("Nikkei −3.2% as exporters slump", ["nik", "##kei", "-", "3", ".", "2", "%"]),
        ("Shares -3.2% after guidance cut", ["-", "3", ".", "2", "%"]),
        # Curly quotes read as the ASCII ones the labelled news headlines use.
        (
            "Fed’s Powell: “no hurry” to cut rates",
            ["fed", "'", "s", "powell", '"', "no", "hurry", '"'],
        ),
        ("ＡＣＭＥ shares surge", ["ac", "##me", "shares", "surge"]),
        ("S&amp;P 500 at a record; AT&amp;T up", ["s", "&", "p", "500", "at", "&", "t"]),
    ],
)
def test_news_style_headlines_keep_what_carries_meaning(headline: str, pieces: list[str]) -> None:
    """The shipped tokenizer on headline-style text: Title Case folds (the encoder is uncased),
    nothing meaningful turns into [UNK] or disappears."""
    from transformers import AutoTokenizer

    from tapewatch.settings import Settings

    tokenizer = AutoTokenizer.from_pretrained(Settings().model_dir)
    tokens = tokenizer.tokenize(model_text(headline))
    assert "[UNK]" not in tokens
    at = 0
    for piece in pieces:  # in this order, not necessarily adjacent
        assert piece in tokens[at:], (piece, tokens)
        at = tokens.index(piece, at) + 1


def test_soft_targets_match_tempered_logits() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]])
    for temperature in (1.0, 2.0, 4.0):
        soft = soften(torch.softmax(logits, -1).numpy(), temperature)
        assert torch.allclose(soft, torch.softmax(logits / temperature, -1), atol=1e-5)


def test_distillation_loss_is_zero_only_when_the_student_matches() -> None:
    t_logits, s_logits = torch.randn(4, len(TOPICS)), torch.randn(4, len(SENTIMENTS))
    t_target, s_target = torch.softmax(t_logits / 2, -1), torch.softmax(s_logits / 2, -1)
    assert float(distillation_loss(t_logits, s_logits, t_target, s_target, 2.0)) < 1e-5
    off = distillation_loss(t_logits.flip(0), s_logits, t_target, s_target, 2.0)
    assert float(off) > 0.01


def test_a_row_with_all_zero_soft_targets_adds_nothing_to_the_distillation_loss() -> None:
    """Rows of sources outside ``distill_sources`` carry zero targets: the loss is that of the
    other rows alone (batch-mean over the whole batch), whatever the student says on them."""
    t_logits, s_logits = torch.randn(6, len(TOPICS)), torch.randn(6, len(SENTIMENTS))
    t_target, s_target = (
        torch.softmax(torch.randn(6, len(TOPICS)), -1),
        torch.softmax(torch.randn(6, len(SENTIMENTS)), -1),
    )
    kept = torch.tensor([True, False, True, True, False, False])
    t_target[~kept], s_target[~kept] = 0.0, 0.0
    masked = distillation_loss(t_logits, s_logits, t_target, s_target, 2.0)
    alone = distillation_loss(
        t_logits[kept], s_logits[kept], t_target[kept], s_target[kept], 2.0
    ) * (3 / 6)
    assert torch.isfinite(masked) and torch.allclose(masked, alone, atol=1e-6)
    shuffled = s_logits.clone()
    shuffled[~kept] = torch.randn(3, len(SENTIMENTS)) * 10
    again = distillation_loss(t_logits, shuffled, t_target, s_target, 2.0)
    assert torch.allclose(again, masked, atol=1e-6)


def test_save_load_round_trip_and_version_tracks_weights(tiny_dir: Path, tmp_path: Path) -> None:
    model, tokenizer, version = load_model(tiny_dir)
    assert version == model_version(tiny_dir)
    again = save_model(model, tokenizer, tmp_path / "copy")
    assert again == version  # same weights, same version
    with torch.no_grad():
        model.topic_head.bias[0] += 1.0
    changed = save_model(model, tokenizer, tmp_path / "changed")
    assert changed != version
    a = Predictor.from_dir(tiny_dir, device="cpu").predict_batch(TEXTS)
    b = Predictor.from_dir(tmp_path / "copy", device="cpu").predict_batch(TEXTS)
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]


def test_int8_engine_runs_and_is_labelled(tiny_dir: Path) -> None:
    q = Predictor.from_dir(tiny_dir, device="cpu", quantize_int8=True)
    assert q.version.endswith("-int8")
    assert all(isinstance(r, Prediction) for r in q.predict_batch(TEXTS))
    with pytest.raises(ValueError, match="choose one"):
        Predictor.from_dir(tiny_dir, device="cpu", quantize_int8=True, bf16=True)


def test_missing_model_directory_says_what_is_wrong(tmp_path: Path) -> None:
    from classify.model import ModelLoadError

    with pytest.raises(ModelLoadError, match="not a Tapewatch model directory"):
        Predictor.from_dir(tmp_path, device="cpu")


def test_fit_temperature_recovers_the_overconfidence_it_was_given() -> None:
    """Labels drawn from softmax(z), the model reports softmax(3z): the fitted temperature
    must come out near 3 and undo it; calibrated probabilities keep their argmax."""
    from classify.training.calibration import fit_temperature

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, size=(20000, 5))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(5, p=row) for row in truth], dtype=np.int64)
    overconfident = np.exp(3 * logits) / np.exp(3 * logits).sum(axis=1, keepdims=True)
    assert fit_temperature(overconfident, labels) == pytest.approx(3.0, rel=0.05)
    assert fit_temperature(truth, labels) == pytest.approx(1.0, rel=0.05)


def test_fit_temperature_declines_when_the_data_cannot_pin_it_down() -> None:
    """Every row right: sharpening always lowers the NLL, so any T would be the search
    range's edge, not a fit. Flat probabilities: every T fits equally."""
    from classify.training.calibration import fit_temperature

    labels = np.array([0, 1, 2, 0], dtype=np.int64)
    right = np.full((4, 3), 0.2)
    right[np.arange(4), labels] = 0.6
    assert fit_temperature(right, labels) is None
    assert fit_temperature(np.full((4, 3), 1 / 3), labels) is None


def test_the_live_path_never_loads_the_training_workshop() -> None:
    """The worker's modules stand alone: a reader of the live path sees only it."""
    import subprocess
    import sys

    code = (
        "import sys, classify.agent, classify.stage, classify.predictor, classify.model;"
        "loaded = sorted(m for m in sys.modules if m.startswith('classify.training'));"
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_distillation_can_be_kept_to_one_head() -> None:
    """With the topic head alone distilled, the sentiment targets do not enter the loss."""
    t_logits, s_logits = torch.randn(4, 20), torch.randn(4, 3)
    t_soft = torch.softmax(torch.randn(4, 20), -1)
    s_soft, other_s_soft = (
        torch.softmax(torch.randn(4, 3), -1),
        torch.softmax(torch.randn(4, 3), -1),
    )
    both = distillation_loss(t_logits, s_logits, t_soft, s_soft, 2.0)
    assert both != distillation_loss(t_logits, s_logits, t_soft, other_s_soft, 2.0)
    topic_only = distillation_loss(t_logits, s_logits, t_soft, s_soft, 2.0, ("topic",))
    assert topic_only == distillation_loss(
        t_logits, s_logits, t_soft, other_s_soft, 2.0, ("topic",)
    )
    assert 0 < topic_only < both
