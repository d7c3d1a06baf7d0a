"""Representation distillation: the student's pooled vector learns to predict the teacher's
through a training-only map (classify/training/features.py)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from classify.model import load_model
from classify.predictor import Predictor
from classify.training.config import TrainConfigError
from classify.training.data import holdout, load_sources
from classify.training.features import FeatureMatcher, FeatureTargets
from classify.training.train import train
from tests.tiny_model import TOY_NEWS, WORDS, build_tiny_base, toy_config, write_toy_data


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Base encoder, toy data and a teacher trained on them."""
    base = build_tiny_base(tmp_path_factory.mktemp("base"))
    data = write_toy_data(tmp_path_factory.mktemp("data"))
    # Its own encoder (another draw, another width), as a base-size teacher has.
    teacher_base = build_tiny_base(tmp_path_factory.mktemp("teacher-base"), seed=1, hidden=48)
    teacher = tmp_path_factory.mktemp("teacher")
    train(toy_config(teacher_base, data, teacher, epochs=6))
    return base, data, teacher


def test_the_map_starts_at_the_least_squares_fit_and_the_loss_reads_only_rows_with_targets() -> (
    None
):
    torch.manual_seed(0)
    student = torch.randn(200, 8)
    mixing = torch.randn(8, 12)
    teacher = student @ mixing + 0.5  # exactly linear in the student's vectors
    matcher = FeatureMatcher(8, 12)
    before = matcher.loss(student, teacher, torch.ones(200, dtype=torch.bool))
    matcher.fit(student, teacher, ridge=0.0)
    fitted = matcher.loss(student, teacher, torch.ones(200, dtype=torch.bool))
    assert before > 0.5 and fitted < 1e-4

    # Rows without a target add nothing, and the sum is over the whole batch: half the rows
    # with targets give half the loss of all of them, whatever the others' targets hold.
    matcher = FeatureMatcher(8, 12)
    half = torch.arange(200) < 100
    noise = torch.where(half.unsqueeze(1), teacher, torch.randn(200, 12) * 100)
    some = float(matcher.loss(student, noise, half).detach())
    assert some == pytest.approx(float(matcher.loss(student[:100], teacher[:100], half[:100])) / 2)
    assert float(matcher.loss(student, teacher, torch.zeros(200, dtype=torch.bool))) == 0.0


def test_targets_are_centred_and_looked_up_by_row_number() -> None:
    vectors = torch.tensor([[1.0, 10.0], [3.0, 14.0]])
    targets = FeatureTargets.of_rows(torch.tensor([4, 1]), vectors, n_rows=6)
    assert targets.rows() == [4, 1]  # in the order of the vectors
    got, present = targets.batch([0, 1, 4], torch.device("cpu"))
    assert present.tolist() == [False, True, True]
    assert got[1].tolist() == [1.0, 2.0] and got[2].tolist() == [-1.0, -2.0]
    again = FeatureTargets(**targets.state())
    assert torch.equal(again.vectors, targets.vectors) and again.rows() == [4, 1]


def _varied_news(directory: Path) -> Path:
    """The toy data with 240 distinct news rows (a sentiment template and random words):
    enough that no linear map fits the teacher's vectors of them by having as many weights."""
    write_toy_data(directory)
    rng = random.Random(0)
    with (directory / "sentfin-headlines" / "train.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(240):
            text, label = list(TOY_NEWS.items())[i % 3]
            writer.writerow([f"{text} {' '.join(rng.choices(WORDS, k=4))}", label])
    return directory


def _news_rows(data: Path, cfg_output: Path) -> list[str]:
    cfg = toy_config(Path("unused"), data, cfg_output)
    labelled = [ex for part in load_sources(data, "train", cfg.sources).values() for ex in part]
    train_ex, _ = holdout(labelled, cfg.holdout_fraction, cfg.holdout_seed)
    return [ex.text for ex in train_ex if ex.source == "sentfin-news"]


def _fit_quality(student_dir: Path, teacher_dir: Path, texts: list[str]) -> float:
    """How well a least-squares map from the student's pooled vectors recovers the teacher's
    (centred) on ``texts``: the mean cosine, 1 = exactly."""
    s = Predictor.from_dir(student_dir, device="cpu", threads=1).pooled(texts)
    t = Predictor.from_dir(teacher_dir, device="cpu", threads=1).pooled(texts)
    t = t - t.mean(axis=0, keepdims=True)
    matcher = FeatureMatcher(s.shape[1], t.shape[1])
    matcher.fit(torch.from_numpy(s), torch.from_numpy(t))
    with torch.no_grad():
        projected = matcher.project(torch.from_numpy(s)).numpy()
    cos = (projected * t).sum(1) / (np.linalg.norm(projected, axis=1) * np.linalg.norm(t, axis=1))
    return float(cos.mean())


def test_a_student_with_the_representation_term_reads_more_like_its_teacher(
    toy: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Same run with and without the term: with it, the student's vectors of the distilled
    (news) rows predict the teacher's better; the pooled vectors are cached once; the saved
    model is a plain model (the map is not in it) and the record names the weight."""
    base, _, teacher = toy
    data = _varied_news(tmp_path / "data")
    common = {
        "teachers": [teacher],
        "teacher_cache": tmp_path / "cache",
        "distill_sources": ("sentfin-news",),
        "seed": 5,
        "epochs": 4,
    }
    train(toy_config(base, data, tmp_path / "plain", **common))
    train(toy_config(base, data, tmp_path / "features", feature_weight=5.0, **common))
    texts = _news_rows(data, tmp_path / "features")
    with_term = _fit_quality(tmp_path / "features", teacher, texts)
    without = _fit_quality(tmp_path / "plain", teacher, texts)
    # The residual a linear read-out leaves (1 - cosine), well below the plain run's.
    assert 1 - with_term < 0.8 * (1 - without), (with_term, without)

    pooled = []
    for cache in (tmp_path / "cache").glob("*.npz"):
        with np.load(cache) as saved:
            if "pooled" in saved:
                pooled.append(saved["pooled"].shape)
    assert pooled == [(len(texts), 48)]  # the news train rows only, at the teacher's width
    model, _, _ = load_model(tmp_path / "features")  # strict: no read-out weights in it
    assert not any("project" in k for k in model.state_dict())
    record = json.loads((tmp_path / "features" / "training.json").read_text())
    assert record["hyperparameters"]["feature_weight"] == 5.0
    assert (
        "Representation distillation, weight 5.0"
        in (tmp_path / "features" / "README.md").read_text()
    )
    assert "Representation" not in (tmp_path / "plain" / "README.md").read_text()
    plain = json.loads((tmp_path / "plain" / "training.json").read_text())
    assert "feature_weight" not in plain["hyperparameters"]  # unset: as before it existed


def test_a_stopped_and_resumed_run_with_the_term_ends_with_the_uninterrupted_model(
    toy: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from classify.training.checkpoint import TrainingInterrupted

    base, data, teacher = toy
    settings = {
        "teachers": [teacher],
        "distill_sources": ("sentfin-news",),
        "feature_weight": 2.0,
        "epochs": 3,
        "checkpoint_every": None,
    }
    whole = train(toy_config(base, data, tmp_path / "whole", **settings))
    steps: list[int] = []
    with pytest.raises(TrainingInterrupted):
        train(
            toy_config(base, data, tmp_path / "cut", **settings),
            on_step=lambda s, t, loss: steps.append(s),
            stop_requested=lambda: len(steps) >= 15,
        )
    resumed = train(toy_config(base, data, tmp_path / "cut", resume=True, **settings))
    assert resumed.resumed_at == [15]
    assert resumed.model_version == whole.model_version


def test_the_term_needs_a_teacher(toy: tuple[Path, Path, Path], tmp_path: Path) -> None:
    base, data, _ = toy
    with pytest.raises(TrainConfigError, match="--teacher"):
        train(toy_config(base, data, tmp_path / "x", feature_weight=1.0))
    with pytest.raises(TrainConfigError, match="0 or more"):
        train(toy_config(base, data, tmp_path / "x", feature_weight=-1.0, teachers=[base]))
