"""Reshaping the encoder before training (fewer vocabulary rows, more layers) and reusing the
teachers' scores: on the tiny random BERT and toy data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from classify.model import load_model, new_model
from classify.predictor import Prediction, Predictor
from classify.training import distill
from classify.training.config import TrainConfigError
from classify.training.distill import teacher_probabilities
from classify.training.resize import kept_pieces, layer_map, prune_vocabulary, resize_layers
from classify.training.train import train
from tests.tiny_model import build_tiny_base, toy_config, write_toy_data

TEXTS = ["fed hike rates", "oil crude barrel up", "shares plunge loss warning"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_base(tmp_path_factory.mktemp("base"))


def _hidden(model: torch.nn.Module, tokenizer: object, texts: list[str]) -> torch.Tensor:
    batch = tokenizer(texts, padding=True, return_tensors="pt")  # type: ignore[operator]
    model.eval()
    with torch.inference_mode():
        return model.encoder(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state


def test_a_pruned_vocabulary_tokenises_and_encodes_its_texts_exactly_as_before(
    base: Path,
) -> None:
    model, tokenizer = new_model(str(base), max_length=16, head_dropout=0.0)
    before = _hidden(model, tokenizer, TEXTS)
    old_ids = tokenizer(TEXTS)["input_ids"]
    keep = kept_pieces(tokenizer, TEXTS)

    pruned = prune_vocabulary(model.encoder, tokenizer, TEXTS)

    new_of = {old: new for new, old in enumerate(keep)}
    assert pruned(TEXTS)["input_ids"] == [[new_of[i] for i in ids] for ids in old_ids]
    assert model.encoder.get_input_embeddings().num_embeddings == len(keep)
    assert len(keep) < len(tokenizer.get_vocab())  # words the texts never use are gone
    assert pruned.pad_token_id == new_of[tokenizer.pad_token_id]
    torch.testing.assert_close(_hidden(model, pruned, TEXTS), before)
    # A word the texts never used now has no row of its own.
    assert pruned("dividend")["input_ids"][1] == pruned.unk_token_id


def test_a_row_budget_keeps_the_lowest_unused_ids_and_refuses_too_few(base: Path) -> None:
    _, tokenizer = new_model(str(base), max_length=16, head_dropout=0.0)
    needed = kept_pieces(tokenizer, TEXTS)
    spare = sorted(set(tokenizer.get_vocab().values()) - set(needed))
    assert kept_pieces(tokenizer, TEXTS, rows=len(needed) + 3) == sorted(needed + spare[:3])
    with pytest.raises(ValueError, match=f"need {len(needed)} of"):
        kept_pieces(tokenizer, TEXTS, rows=len(needed) - 1)


def test_layer_maps_repeat_in_place_when_growing_and_space_out_when_cutting() -> None:
    assert layer_map(6, 9) == [0, 0, 1, 2, 2, 3, 4, 4, 5]
    assert layer_map(6, 3) == [0, 2, 4]
    assert layer_map(6, 6) == list(range(6))
    with pytest.raises(ValueError):
        layer_map(6, 0)


def test_grown_layers_start_as_independent_copies(base: Path) -> None:
    model, _ = new_model(str(base), max_length=16, head_dropout=0.0)
    old = [layer.state_dict() for layer in model.encoder.encoder.layer]
    assert resize_layers(model.encoder, 4) == [0, 0, 1, 1]
    stack = model.encoder.encoder.layer
    assert len(stack) == 4 and model.encoder.config.num_hidden_layers == 4
    for new_index, old_index in enumerate([0, 0, 1, 1]):
        for name, tensor in stack[new_index].state_dict().items():
            assert torch.equal(tensor, old[old_index][name]), (new_index, name)
    # Copies, not shared modules: training one must not move its twin.
    stack[0].intermediate.dense.weight.data.add_(1.0)
    assert not torch.equal(stack[0].intermediate.dense.weight, stack[1].intermediate.dense.weight)


def test_a_reshaped_student_trains_saves_and_reloads_with_its_shape(
    base: Path, tmp_path: Path
) -> None:
    data = write_toy_data(tmp_path / "data")
    _, tokenizer = new_model(str(base), max_length=16, head_dropout=0.0)
    full = len(tokenizer.get_vocab())
    rows = full - 5  # the toy texts use fewer pieces than this
    result = train(toy_config(base, data, tmp_path / "m", epochs=6, layers=3, vocabulary_rows=rows))

    model, loaded_tokenizer, version = load_model(tmp_path / "m")
    assert version == result.model_version
    assert len(model.encoder.encoder.layer) == 3
    assert model.encoder.get_input_embeddings().num_embeddings == rows
    assert len(loaded_tokenizer.get_vocab()) == rows
    record = json.loads((tmp_path / "m" / "training.json").read_text())
    assert record["hyperparameters"]["layers"] == 3
    assert record["hyperparameters"]["vocabulary_rows"] == rows
    assert result.holdout["topic"]["accuracy"] == 1.0
    prediction = Predictor.from_dir(tmp_path / "m", device="cpu").predict_batch(["fed hike rates"])
    assert isinstance(prediction[0], Prediction) and prediction[0].topic == "Fed | Central Banks"


def test_impossible_shapes_are_refused_before_training(base: Path, tmp_path: Path) -> None:
    data = write_toy_data(tmp_path / "data")
    with pytest.raises(TrainConfigError, match="too few"):
        train(toy_config(base, data, tmp_path / "a", vocabulary_rows=3))
    with pytest.raises(TrainConfigError, match="positive"):
        train(toy_config(base, data, tmp_path / "b", layers=0))
    assert not (tmp_path / "a" / "model.safetensors").exists()


def test_teacher_scores_are_cached_by_teacher_and_texts(
    base: Path, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = teacher_probabilities([tiny_model_dir], TEXTS, device="cpu", cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 1

    def no_scoring(*args: object, **kwargs: object) -> None:
        raise AssertionError("scored again despite a cached result")

    with monkeypatch.context() as patched:
        patched.setattr(distill, "_score_all", no_scoring)
        again = teacher_probabilities([tiny_model_dir], TEXTS, device="cpu", cache_dir=cache)
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], first[1])
    assert again[2] == first[2]

    # Other texts are another entry; a damaged entry is scored again, not trusted.
    teacher_probabilities([tiny_model_dir], TEXTS[:2], device="cpu", cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 2
    for entry in cache.glob("*.npz"):
        entry.write_bytes(b"not a numpy archive")
    rescored = teacher_probabilities([tiny_model_dir], TEXTS, device="cpu", cache_dir=cache)
    np.testing.assert_array_equal(rescored[0], first[0])


def test_bf16_teacher_scores_are_close_to_fp32_and_cached_apart(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    cache = tmp_path / "cache"
    fp32 = teacher_probabilities([tiny_model_dir], TEXTS, device="cpu", cache_dir=cache)
    bf16 = teacher_probabilities([tiny_model_dir], TEXTS, device="cpu", cache_dir=cache, bf16=True)
    assert len(list(cache.glob("*.npz"))) == 2
    # Really scored in bf16, not handed the fp32 entry: the last digits differ.
    assert not np.array_equal(bf16[0], fp32[0])
    np.testing.assert_allclose(bf16[0], fp32[0], atol=0.02)
    np.testing.assert_allclose(bf16[1], fp32[1], atol=0.02)
