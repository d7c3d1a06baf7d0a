"""Adversarial training (FGM): each step also learns from the batch with the word embeddings
pushed along their gradient (classify/training/steps.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from classify.model import new_model
from classify.training.config import TrainConfigError
from classify.training.steps import perturbed_embeddings
from classify.training.train import train
from tests.tiny_model import toy_config


def test_the_embeddings_move_by_epsilon_along_their_gradient_and_come_back(
    toy_task: tuple[Path, Path],
) -> None:
    base, _ = toy_task
    model, _ = new_model(str(base), max_length=16, head_dropout=0.0)
    weight = model.encoder.get_input_embeddings().weight
    before = weight.detach().clone()
    with perturbed_embeddings(model, 0.5):  # no gradient yet: nothing to move along
        assert torch.equal(weight, before)

    ids = torch.tensor([[2, 7, 9, 3]])  # the batch's words: rows 2, 3, 7, 9
    topic, sentiment = model(ids, torch.ones_like(ids))
    (topic.sum() + sentiment.sum()).backward()
    assert weight.grad is not None
    grad = weight.grad.clone()
    with perturbed_embeddings(model, 0.5):
        moved = weight.detach() - before
        assert float(moved.norm()) == pytest.approx(0.5, rel=1e-4)
        assert torch.allclose(moved, 0.5 * grad / grad.norm(), atol=1e-6)
        changed = moved.abs().sum(dim=1).nonzero().flatten().tolist()
        assert changed == [2, 3, 7, 9]
        loss_there = model(ids, torch.ones_like(ids))
        assert not torch.equal(loss_there[0], topic)
    assert torch.equal(weight, before)  # put back exactly


def test_an_adversarial_run_learns_the_toy_task_and_records_its_epsilon(
    toy_task: tuple[Path, Path], tmp_path: Path
) -> None:
    base, data = toy_task
    plain = train(toy_config(base, data, tmp_path / "plain"))
    # The toy's whole embedding matrix has a norm near 1: a push of 0.1 is a real-size one.
    pushed = train(toy_config(base, data, tmp_path / "fgm", adversarial_epsilon=0.1))
    assert pushed.holdout["topic"]["accuracy"] == 1.0
    assert pushed.holdout["sentiment"]["accuracy"] == 1.0
    assert pushed.model_version != plain.model_version  # the second loss changed the steps
    record = json.loads((tmp_path / "fgm" / "training.json").read_text())
    assert record["hyperparameters"]["adversarial_epsilon"] == 0.1
    unset = json.loads((tmp_path / "plain" / "training.json").read_text())
    assert "adversarial_epsilon" not in unset["hyperparameters"]


def test_adversarial_training_refuses_lora_and_negative_epsilons(
    toy_task: tuple[Path, Path], tmp_path: Path
) -> None:
    base, data = toy_task
    with pytest.raises(TrainConfigError, match="drop --lora"):
        train(toy_config(base, data, tmp_path / "x", adversarial_epsilon=1.0, lora=True))
    with pytest.raises(TrainConfigError, match="0 or more"):
        train(toy_config(base, data, tmp_path / "x", adversarial_epsilon=-1.0))
