"""A real training run of a few steps on the tiny model and toy data: it learns, it writes a
complete model directory, and the LoRA option produces a plain (merged) model."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from classify.predictor import Prediction, Predictor
from classify.training.card import render_card
from classify.training.config import TrainConfig
from classify.training.data import Example, holdout, load_sources
from classify.training.train import train
from tests.tiny_model import (
    TOY_SENTIMENT,
    TOY_TOPIC,
    build_tiny_base,
    toy_config,
    write_toy_data,
)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = build_tiny_base(tmp_path_factory.mktemp("base"))
    data = write_toy_data(tmp_path_factory.mktemp("data"))
    return base, data


def test_training_learns_the_toy_task_and_writes_a_model_dir(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    base, data = toy
    steps: list[int] = []
    result = train(
        toy_config(base, data, tmp_path / "m"), on_step=lambda s, total, loss: steps.append(s)
    )
    assert steps == list(range(1, result.steps + 1))
    for name in ("model.safetensors", "tapewatch_config.json", "tokenizer.json", "training.json"):
        assert (tmp_path / "m" / name).exists(), name
    record = json.loads((tmp_path / "m" / "training.json").read_text())
    assert record["model_version"] == result.model_version
    assert len(record["data"]["twitter-topic"]["sha256"]) == 64
    assert record["data"]["sentfin-news"]["head"] == "sentiment"
    assert record["hyperparameters"]["learning_rate"] == 3e-3

    predictor = Predictor.from_dir(tmp_path / "m", device="cpu")
    from classify.labels import SENTIMENT_FROM_DATASET, SENTIMENTS, TOPICS

    topic_hits = [
        isinstance(p, Prediction) and p.topic == TOPICS[label]
        for text, label in TOY_TOPIC.items()
        for p in predictor.predict_batch([f"{text} acme"])
    ]
    sentiment_hits = [
        isinstance(p, Prediction) and p.sentiment == SENTIMENTS[SENTIMENT_FROM_DATASET[label]]
        for text, label in TOY_SENTIMENT.items()
        for p in predictor.predict_batch([f"{text} apple"])
    ]
    assert all(topic_hits), topic_hits
    assert all(sentiment_hits), sentiment_hits
    assert result.holdout["topic"]["accuracy"] == 1.0


def test_training_is_seeded(toy: tuple[Path, Path], tmp_path: Path) -> None:
    base, data = toy
    a = train(toy_config(base, data, tmp_path / "a", epochs=1))
    b = train(toy_config(base, data, tmp_path / "b", epochs=1))
    assert a.model_version == b.model_version


def test_lora_training_saves_a_merged_plain_model(toy: tuple[Path, Path], tmp_path: Path) -> None:
    base, data = toy
    result = train(toy_config(base, data, tmp_path / "lora", lora=True, epochs=2, lora_rank=4))
    from safetensors import safe_open

    with safe_open(str(tmp_path / "lora" / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert not any("lora" in k for k in keys)
    assert any(k.startswith("encoder.") for k in keys)
    predictor = Predictor.from_dir(tmp_path / "lora", device="cpu")
    assert predictor.version == result.model_version
    assert isinstance(predictor.predict_batch(["fed hike rates"])[0], Prediction)


def test_bf16_training_learns_the_toy_task_with_its_own_numerics(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    """bf16 autocast (emulated on CPUs without bf16 units, so it runs anywhere) still learns the
    task, and it really is a different computation: same seed, other weights than fp32."""
    base, data = toy
    fp32 = train(toy_config(base, data, tmp_path / "fp32", max_steps=20, epochs=2))
    bf16 = train(toy_config(base, data, tmp_path / "bf16", max_steps=20, epochs=2, bf16=True))
    assert bf16.model_version != fp32.model_version
    full = train(toy_config(base, data, tmp_path / "full", bf16=True))
    assert full.holdout["topic"]["accuracy"] == 1.0
    assert full.holdout["sentiment"]["accuracy"] == 1.0
    record = json.loads((tmp_path / "full" / "training.json").read_text())
    assert record["hyperparameters"]["bf16"] is True


def test_distillation_alone_teaches_a_student(toy: tuple[Path, Path], tmp_path: Path) -> None:
    """With the gold-label loss switched off (weight 1.0 on soft targets), everything the
    student knows comes from the teacher: it must still get the toy task right."""
    base, data = toy
    teacher = train(toy_config(base, data, tmp_path / "teacher"))
    student = train(
        toy_config(
            base,
            data,
            tmp_path / "student",
            seed=7,
            teachers=[tmp_path / "teacher"],
            distill_weight=1.0,
            distill_temperature=1.0,
            threads=2,
        )
    )
    assert student.model_version != teacher.model_version
    assert torch.get_num_threads() == 2  # loading the teacher kept the run's thread setting
    record = json.loads((tmp_path / "student" / "training.json").read_text())
    assert record["teachers"] == [
        {"directory": str(tmp_path / "teacher"), "model_version": teacher.model_version}
    ]
    assert student.holdout["topic"]["accuracy"] == 1.0
    assert student.holdout["sentiment"]["accuracy"] == 1.0
    card = (tmp_path / "student" / "README.md").read_text()
    assert teacher.model_version in card
    assert "held before" not in card
    # Shipped in its teacher's place, the student's card says the teacher was its predecessor.
    shutil.copytree(tmp_path / "student", tmp_path / "teacher", dirs_exist_ok=True)
    assert "the model this directory held before" in render_card(tmp_path / "teacher")


def _train_rows(cfg: TrainConfig) -> tuple[list[Example], int]:
    """The rows a run of ``cfg`` trains on (the holdout taken out), and how many are news."""
    labelled = [
        ex for part in load_sources(cfg.data_dir, "train", cfg.sources).values() for ex in part
    ]
    train_rows, _ = holdout(labelled, cfg.holdout_fraction, cfg.holdout_seed)
    return train_rows, sum(ex.source == "sentfin-news" for ex in train_rows)


def _cached_rows(cache_dir: Path) -> list[int]:
    """The row count of each teacher-score cache file in ``cache_dir``, smallest first."""
    sizes = []
    for cache in cache_dir.glob("*.npz"):
        with np.load(cache) as saved:
            assert len(saved["topic"]) == len(saved["sentiment"])
            sizes.append(len(saved["sentiment"]))
    return sorted(sizes)


def test_distilling_one_source_scores_only_its_rows_and_the_rest_learn_from_gold(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    """A news teacher's soft targets on the news rows only: the tweet rows are never scored
    (the cache holds the news rows alone), and with most of the loss on the soft targets the
    tweet rows still learn both heads from their gold labels."""
    base, data = toy
    train(toy_config(base, data, tmp_path / "teacher"))
    cfg = toy_config(
        base,
        data,
        tmp_path / "student",
        seed=7,
        teachers=[tmp_path / "teacher"],
        teacher_cache=tmp_path / "cache",
        distill_weight=0.8,
        distill_heads=("sentiment",),
        distill_sources=("sentfin-news",),
    )
    student = train(cfg)
    train_rows, news_rows = _train_rows(cfg)
    assert 0 < news_rows < len(train_rows)
    assert _cached_rows(tmp_path / "cache") == [news_rows]  # one cache file, the news rows
    assert student.holdout["topic"]["accuracy"] == 1.0
    assert student.holdout["sentiment"]["accuracy"] == 1.0
    record = json.loads((tmp_path / "student" / "training.json").read_text())
    assert record["hyperparameters"]["distill_sources"] == ["sentfin-news"]
    card = (tmp_path / "student" / "README.md").read_text()
    assert "on the rows of sentfin-news only" in card
    # Perturbed copies are of the distilled rows only: scored apart, cached apart.
    train(replace(cfg, output_dir=tmp_path / "augmented", augment=0.5, max_steps=2))
    copied, originals = _cached_rows(tmp_path / "cache")
    assert originals == news_rows
    # About half the news rows (each copied with probability 0.5); copies of every row would
    # be about half of all rows, well over three quarters of the news rows.
    assert 0 < copied < 0.75 * news_rows < 0.5 * len(train_rows)


def test_a_topic_teacher_gives_the_topic_head_on_every_row_beside_a_one_source_teacher(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    """The news recipe: sentiment from a news teacher on the news rows, topics from another
    model on every row. Each is scored on its own rows (two caches), both are recorded, and
    with the whole loss on soft targets each head learns what its teacher was given."""
    base, data = toy
    news = train(toy_config(base, data, tmp_path / "news"))
    topics = train(toy_config(base, data, tmp_path / "topics", seed=5))
    cfg = toy_config(
        base,
        data,
        tmp_path / "student",
        seed=7,
        teachers=[tmp_path / "news"],
        topic_teachers=[tmp_path / "topics"],
        teacher_cache=tmp_path / "cache",
        distill_weight=1.0,
        distill_temperature=1.0,
        distill_heads=("sentiment",),
        distill_sources=("sentfin-news",),
    )
    student = train(cfg)
    train_rows, news_rows = _train_rows(cfg)
    assert _cached_rows(tmp_path / "cache") == [news_rows, len(train_rows)]
    # No gold loss: topics come only from the topic teacher, sentiment only from the news
    # teacher on the news rows; both heads still get the toy task right.
    assert student.holdout["topic"]["accuracy"] == 1.0
    assert student.holdout["sentiment"]["accuracy"] == 1.0
    record = json.loads((tmp_path / "student" / "training.json").read_text())
    assert record["teachers"] == [
        {"directory": str(tmp_path / "news"), "model_version": news.model_version},
        {
            "directory": str(tmp_path / "topics"),
            "model_version": topics.model_version,
            "heads": ["topic"],
        },
    ]
    card = (tmp_path / "student" / "README.md").read_text()
    assert "its topic head only, on every row" in card
    assert "on the rows of sentfin-news only" in card
    with pytest.raises(ValueError, match="--distill-head sentiment"):
        train(replace(cfg, output_dir=tmp_path / "x", distill_heads=("topic", "sentiment")))


def test_distillation_rejects_bad_settings(toy: tuple[Path, Path], tmp_path: Path) -> None:
    base, data = toy
    with pytest.raises(ValueError, match="distill_weight"):
        train(toy_config(base, data, tmp_path / "x", teachers=[tmp_path], distill_weight=1.5))
    with pytest.raises(ValueError, match="output directory"):
        train(toy_config(base, data, tmp_path / "x", teachers=[tmp_path / "x"]))
    with pytest.raises(ValueError, match="reuters"):
        train(toy_config(base, data, tmp_path / "x", distill_sources=("reuters",)))
    with pytest.raises(ValueError, match="--teacher"):
        train(toy_config(base, data, tmp_path / "x", distill_sources=("sentfin-news",)))


def _drift_from_base(base: Path, model_dir: Path) -> float:
    """How far a trained model's encoder weights moved from the pretrained base (L2)."""
    from transformers import AutoModel

    from classify.model import load_model

    pretrained = AutoModel.from_pretrained(base, local_files_only=True).state_dict()
    trained, _, _ = load_model(model_dir)
    total = 0.0
    for name, tensor in trained.encoder.state_dict().items():
        if tensor.is_floating_point() and name in pretrained:
            total += float((tensor - pretrained[name]).pow(2).sum())
    return total**0.5


def test_ema_saves_the_averaged_weights_not_the_last_step(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    """With a decay of almost 1 the average never leaves the weights after the first step, so
    the saved encoder sits much nearer the pretrained one than the last step's weights do."""
    base, data = toy
    short = {"epochs": 1, "max_steps": 8}
    train(toy_config(base, data, tmp_path / "plain", **short))
    train(toy_config(base, data, tmp_path / "ema", ema_decay=1 - 1e-9, **short))
    plain, averaged = (
        _drift_from_base(base, tmp_path / "plain"),
        _drift_from_base(base, tmp_path / "ema"),
    )
    assert 0 < averaged < 0.5 * plain, (averaged, plain)
    record = json.loads((tmp_path / "ema" / "training.json").read_text())
    assert record["hyperparameters"]["ema_decay"] == 1 - 1e-9


def test_ema_training_still_learns_the_toy_task(toy: tuple[Path, Path], tmp_path: Path) -> None:
    base, data = toy
    result = train(toy_config(base, data, tmp_path / "m", ema_decay=0.9))
    assert result.holdout["topic"]["accuracy"] == 1.0
    assert result.holdout["sentiment"]["accuracy"] == 1.0
    with pytest.raises(ValueError, match="ema_decay"):
        train(toy_config(base, data, tmp_path / "x", ema_decay=1.0))


def _saved_weights(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(str(model_dir / "model.safetensors")).items()}


def test_prior_correction_takes_log_class_weights_out_of_the_head_biases(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    """Same run with and without the correction: identical weights except each head's bias,
    which is lower by exactly log(class weight); the post-hoc command reproduces it."""
    from classify.training.data import holdout, load_split
    from classify.training.posthoc import PostHocError, correct_model_dir
    from classify.training.weights import head_weights

    base, data = toy
    # Without temperature scaling, which would scale the heads as well.
    plain = train(
        toy_config(
            base, data, tmp_path / "plain", epochs=1, prior_correction=False, calibrate=False
        )
    )
    train(toy_config(base, data, tmp_path / "corrected", epochs=1, calibrate=False))
    topic, sentiment = load_split(data, "train")
    cfg = toy_config(base, data, tmp_path)
    train_ex, _ = holdout(topic + sentiment, cfg.holdout_fraction, cfg.holdout_seed)
    t_weight, s_weight = head_weights(train_ex, "sqrt")
    assert t_weight is not None and s_weight is not None
    assert t_weight.max() / t_weight.min() > 2  # toy topics are imbalanced: a real shift

    before, after = _saved_weights(tmp_path / "plain"), _saved_weights(tmp_path / "corrected")
    shifts = {"topic_head.bias": t_weight.log(), "sentiment_head.bias": s_weight.log()}
    for name, tensor in before.items():
        expected = tensor - shifts[name] if name in shifts else tensor
        torch.testing.assert_close(after[name], expected, atol=2e-3, rtol=2e-3, msg=name)

    how = "tapewatch correct-priors --model-dir plain --output-dir post-hoc"
    version = correct_model_dir(tmp_path / "plain", tmp_path / "post-hoc", data, how)
    assert version != plain.model_version
    for name, tensor in _saved_weights(tmp_path / "post-hoc").items():
        torch.testing.assert_close(tensor, after[name], atol=2e-3, rtol=2e-3, msg=name)
    record = json.loads((tmp_path / "post-hoc" / "training.json").read_text())
    assert record["prior_correction"]["source_model_version"] == plain.model_version
    assert record["prior_correction"]["command"] == how
    assert record["hyperparameters"]["prior_correction"] is True
    assert plain.model_version in (tmp_path / "post-hoc" / "README.md").read_text()

    with pytest.raises(PostHocError, match="already"):
        correct_model_dir(tmp_path / "post-hoc", tmp_path / "twice", data)


def test_prior_correction_refuses_other_train_files(toy: tuple[Path, Path], tmp_path: Path) -> None:
    from classify.training.posthoc import PostHocError, correct_model_dir

    base, data = toy
    train(
        toy_config(
            base, data, tmp_path / "plain", max_steps=2, prior_correction=False, calibrate=False
        )
    )
    other = tmp_path / "other-data"
    shutil.copytree(data, other)
    csv = next(other.glob("twitter-financial-news-topic/train*"))
    csv.write_text(csv.read_text() + csv.read_text().splitlines()[-1] + "\n")
    with pytest.raises(PostHocError, match="sha256"):
        correct_model_dir(tmp_path / "plain", tmp_path / "out", other)
    assert not (tmp_path / "out").exists()


def _assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = _saved_weights(a), _saved_weights(b)
    assert wa.keys() == wb.keys()
    for name, tensor in wa.items():
        assert torch.equal(tensor, wb[name]), name


# Three epochs of 11 steps with a weight average: state in the optimiser, the schedule, the
# average, the batch order and dropout all has to survive the interruption.
RESUMABLE = {"epochs": 3, "ema_decay": 0.9, "checkpoint_every": None}


def test_a_stopped_and_resumed_run_ends_with_the_model_of_an_uninterrupted_one(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    from classify.training.checkpoint import TrainingInterrupted, checkpoint_path

    base, data = toy
    whole = train(toy_config(base, data, tmp_path / "whole", **RESUMABLE))
    assert whole.steps > 15

    cfg = toy_config(base, data, tmp_path / "cut", **RESUMABLE)
    steps: list[int] = []
    with pytest.raises(TrainingInterrupted) as stopped:
        train(
            cfg, on_step=lambda s, t, loss: steps.append(s), stop_requested=lambda: len(steps) >= 15
        )
    assert stopped.value.step == 15  # mid-way through the second epoch
    assert checkpoint_path(tmp_path / "cut").exists()

    resumed = train(toy_config(base, data, tmp_path / "cut", resume=True, **RESUMABLE))
    assert (resumed.steps, resumed.best_epoch, resumed.holdout) == (
        whole.steps,
        whole.best_epoch,
        whole.holdout,
    )
    _assert_same_weights(tmp_path / "whole", tmp_path / "cut")
    assert resumed.model_version == whole.model_version
    assert not checkpoint_path(tmp_path / "cut").parent.exists()  # cleaned up once done
    record = json.loads((tmp_path / "cut" / "training.json").read_text())
    assert record["resumed_at_steps"] == [15]


@pytest.mark.parametrize(
    ("every", "crash_at", "resumes_at"),
    [
        (4, 11, 8),  # mid-epoch: steps 9-11 are replayed
        (11, 13, 11),  # the checkpoint after epoch 1's last step, before its holdout evaluation
    ],
)
def test_a_crash_between_checkpoints_costs_only_the_steps_since_the_last(
    toy: tuple[Path, Path], tmp_path: Path, every: int, crash_at: int, resumes_at: int
) -> None:
    """Killed between checkpoints: resuming replays the steps since the last one and the
    result is still the uninterrupted run's model."""
    base, data = toy
    whole = train(toy_config(base, data, tmp_path / "whole", **RESUMABLE))
    assert whole.steps == 33  # 11 steps an epoch: the second case is an epoch boundary

    def crash(step: int, total: int, loss: float) -> None:
        if step == crash_at:
            raise RuntimeError("power cut")

    settings = RESUMABLE | {"checkpoint_every": every}
    with pytest.raises(RuntimeError, match="power cut"):
        train(toy_config(base, data, tmp_path / "crash", **settings), on_step=crash)
    resumed = train(toy_config(base, data, tmp_path / "crash", resume=True, **settings))
    assert resumed.resumed_at == [resumes_at]
    assert resumed.model_version == whole.model_version
    _assert_same_weights(tmp_path / "whole", tmp_path / "crash")


def test_resuming_is_refused_when_it_would_not_continue_the_same_run(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    from classify.training.checkpoint import ResumeError, TrainingInterrupted

    base, data = toy
    with pytest.raises(ResumeError, match="without --resume"):
        train(toy_config(base, data, tmp_path / "none", resume=True))
    # Asked to stop during set-up: it stops before the first step, with a checkpoint.
    with pytest.raises(TrainingInterrupted) as stopped:
        train(toy_config(base, data, tmp_path / "m", **RESUMABLE), stop_requested=lambda: True)
    assert stopped.value.step == 0
    # A fresh run into the same directory would silently throw the unfinished one away.
    with pytest.raises(ResumeError, match="--resume"):
        train(toy_config(base, data, tmp_path / "m", **RESUMABLE))
    with pytest.raises(ResumeError, match="learning_rate"):
        train(toy_config(base, data, tmp_path / "m", resume=True, learning_rate=1e-3, **RESUMABLE))
    other = tmp_path / "other-data"
    shutil.copytree(data, other)
    csv = next(other.glob("twitter-financial-news-topic/train*"))
    csv.write_text(csv.read_text() + csv.read_text().splitlines()[-1] + "\n")
    with pytest.raises(ResumeError, match="topic"):
        train(toy_config(base, other, tmp_path / "m", resume=True, **RESUMABLE))
    # Where it runs may change, and calibration (after the last step); what it trains may not.
    done = train(
        toy_config(base, data, tmp_path / "m", resume=True, threads=2, calibrate=False, **RESUMABLE)
    )
    assert done.resumed_at == [0]
    record = json.loads((tmp_path / "m" / "training.json").read_text())
    assert "resume" not in record["hyperparameters"]


def test_calibration_only_rescales_the_heads_and_the_post_hoc_command_matches_it(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    """Same seeded run with and without temperature scaling: the encoder is identical, each
    head is divided by its recorded temperature, so no label changes; `tapewatch calibrate`
    on the uncalibrated model gives the same temperatures."""
    from classify.training.posthoc import PostHocError, calibrate_model_dir, correct_model_dir

    base, data = toy
    # A few steps only: a model that is still wrong on part of the holdout, so the NLL has
    # an optimum (on a holdout it gets all right, sharpening always helps: no T fits).
    short = {"epochs": 1, "max_steps": 3, "prior_correction": False}
    raw = train(toy_config(base, data, tmp_path / "raw", calibrate=False, **short))
    cal = train(toy_config(base, data, tmp_path / "cal", **short))
    assert raw.calibration == {}
    temperatures = {h: cal.calibration[h]["temperature"] for h in ("topic", "sentiment")}
    assert all(t != 1.0 for t in temperatures.values()), temperatures
    for head in ("topic", "sentiment"):
        c = cal.calibration[head]
        assert c["holdout_nll_after"] < c["holdout_nll_before"], c
    before, after = _saved_weights(tmp_path / "raw"), _saved_weights(tmp_path / "cal")
    for name, tensor in before.items():
        if "_head." in name:
            expected = tensor / temperatures[name.split("_head.")[0]]
            torch.testing.assert_close(after[name], expected, atol=2e-3, rtol=2e-3, msg=name)
        else:
            assert torch.equal(after[name], tensor), name
    assert cal.model_version != raw.model_version
    # No label changes, on the holdout or on anything else.
    texts = [f"{t} {w}" for t in (*TOY_TOPIC, *TOY_SENTIMENT) for w in ("acme", "apple", "bank")]
    labels = {}
    for name in ("raw", "cal"):
        t_probs, s_probs = Predictor.from_dir(tmp_path / name, device="cpu").probabilities(texts)
        labels[name] = (t_probs.argmax(1).tolist(), s_probs.argmax(1).tolist())
    assert labels["raw"] == labels["cal"]

    calibrate_model_dir(tmp_path / "raw", tmp_path / "post-hoc", data, "tapewatch calibrate …")
    record = json.loads((tmp_path / "post-hoc" / "training.json").read_text())
    for head, t in temperatures.items():
        assert record["calibration"][head]["temperature"] == pytest.approx(t, rel=1e-3)
    assert record["calibration"]["post_hoc"]["source_model_version"] == raw.model_version
    assert record["calibration"]["post_hoc"]["command"] == "tapewatch calibrate …"
    assert "Temperature-scaled" in (tmp_path / "post-hoc" / "README.md").read_text()
    with pytest.raises(PostHocError, match="already"):
        calibrate_model_dir(tmp_path / "cal", tmp_path / "twice", data)
    with pytest.raises(PostHocError, match="temperature-scaled"):
        correct_model_dir(tmp_path / "cal", tmp_path / "corrected", data)


def test_average_of_two_runs_is_their_mean_recalibrated_and_says_so(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    """`tapewatch average`: the encoder is the members' mean, each head the mean divided by a
    temperature fitted again on the common holdout; the record and card name the members."""
    from classify.training.average import average_model_dirs
    from classify.training.posthoc import PostHocError

    base, data = toy
    short = {"epochs": 1, "max_steps": 3}
    a = train(toy_config(base, data, tmp_path / "a", **short), command="tapewatch train a")
    b = train(toy_config(base, data, tmp_path / "b", seed=21, **short), command="tapewatch train b")
    assert a.model_version != b.model_version
    members = [tmp_path / "a", tmp_path / "b"]
    version = average_model_dirs(members, tmp_path / "avg", data, "tapewatch average a b")

    record = json.loads((tmp_path / "avg" / "training.json").read_text())
    assert record["model_version"] == version
    assert record["command"] == "tapewatch average a b"
    assert [(m["model_version"], m["command"]) for m in record["averaged_from"]] == [
        (a.model_version, "tapewatch train a"),
        (b.model_version, "tapewatch train b"),
    ]
    assert record["steps"] == a.steps + b.steps
    refit = {h: record["calibration"][h]["temperature"] for h in ("topic", "sentiment")}
    wa, wb = _saved_weights(tmp_path / "a"), _saved_weights(tmp_path / "b")
    for name, tensor in _saved_weights(tmp_path / "avg").items():
        mean = (wa[name] + wb[name]) / 2
        if "_head." in name:
            mean = mean / refit[name.split("_head.")[0]]
        torch.testing.assert_close(tensor, mean, atol=2e-3, rtol=2e-3, msg=name)
    card = (tmp_path / "avg" / "README.md").read_text()
    assert card == render_card(tmp_path / "avg")
    assert "Weight average of 2 runs" in card and "`tapewatch train b`" in card
    assert "(all members together)" in card
    assert isinstance(Predictor.from_dir(tmp_path / "avg").predict_batch(["fed"])[0], Prediction)

    # Members of other data are refused, and so is writing over a member.
    other = tmp_path / "other"
    shutil.copytree(tmp_path / "b", other)
    changed = json.loads((other / "training.json").read_text())
    changed["data"]["sentfin-news"]["sha256"] = "0" * 64
    (other / "training.json").write_text(json.dumps(changed))
    with pytest.raises(PostHocError, match="differ in data"):
        average_model_dirs([tmp_path / "a", other], tmp_path / "bad", data)
    with pytest.raises(PostHocError, match="new directory"):
        average_model_dirs(members, tmp_path / "a", data)
    with pytest.raises(PostHocError, match="two or more"):
        average_model_dirs(members[:1], tmp_path / "one", data)


def test_average_toward_start_interpolates_a_run_with_the_model_it_started_from(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    """`tapewatch average RUN --toward-start A`: weights (1 - A) * run + A * start, the start
    found by the run's record and checked by version; a run from a base encoder has none."""
    from classify.training.average import average_model_dirs
    from classify.training.posthoc import PostHocError

    base, data = toy
    short = {"epochs": 1, "max_steps": 3}
    start = train(toy_config(base, data, tmp_path / "start", **short), command="train start")
    other = train(toy_config(base, data, tmp_path / "other", seed=21, **short), command="t o")
    run = train(
        toy_config(base, data, tmp_path / "run", init_from=tmp_path / "start", **short),
        command="tapewatch train run",
    )
    average_model_dirs(
        [tmp_path / "run"], tmp_path / "wise", data, "tapewatch average run", toward_start=0.25
    )

    record = json.loads((tmp_path / "wise" / "training.json").read_text())
    assert record["toward_start"] == {
        "directory": str(tmp_path / "start"),
        "model_version": start.model_version,
        "fraction": 0.25,
    }
    refit = {h: record["calibration"][h]["temperature"] for h in ("topic", "sentiment")}
    ws, wr = _saved_weights(tmp_path / "start"), _saved_weights(tmp_path / "run")
    for name, tensor in _saved_weights(tmp_path / "wise").items():
        mixed = 0.75 * wr[name] + 0.25 * ws[name]
        if "_head." in name:
            mixed = mixed / refit[name.split("_head.")[0]]
        torch.testing.assert_close(tensor, mixed, atol=2e-3, rtol=2e-3, msg=name)
    card = (tmp_path / "wise" / "README.md").read_text()
    pulled = "pulled 0.25 of the way back to the model they started from"
    pulled += f" (version `{start.model_version}`)"
    assert pulled in card
    assert run.model_version not in {start.model_version, other.model_version}

    # The start must be the model the run started from, and there must be one.
    with pytest.raises(PostHocError, match="holds version"):
        average_model_dirs(
            [tmp_path / "run"], tmp_path / "bad", data, toward_start=0.5, start=tmp_path / "other"
        )
    with pytest.raises(PostHocError, match="no start"):
        average_model_dirs([tmp_path / "other"], tmp_path / "bad", data, toward_start=0.5)
    with pytest.raises(PostHocError, match="fraction"):
        average_model_dirs([tmp_path / "run"], tmp_path / "bad", data, toward_start=1.0)
    # A run that grew a layer is not its start's shape: refused, not a torch shape error.
    deeper = toy_config(
        base, data, tmp_path / "deeper", init_from=tmp_path / "start", layers=3, **short
    )
    train(deeper, command="tapewatch train deeper")
    with pytest.raises(PostHocError, match="different tensors"):
        average_model_dirs([tmp_path / "deeper"], tmp_path / "bad", data, toward_start=0.5)
    assert not (tmp_path / "bad").exists()


def test_own_heads_and_priors_take_a_sources_labels_without_touching_the_shared_head() -> None:
    from classify.training.source_priors import SourcePriors
    from classify.training.sources import DEFAULT_SOURCES

    sources = (
        DEFAULT_SOURCES[0],
        replace(DEFAULT_SOURCES[1], own_prior=True, own_head=True),
        DEFAULT_SOURCES[2],
    )
    shared_t, shared_s = torch.nn.Linear(8, 20), torch.nn.Linear(8, 3)
    priors = SourcePriors(sources, hidden=8)
    priors.start_from(shared_t, shared_s)
    with torch.no_grad():
        priors.sentiment[1] += torch.tensor([0.0, 5.0, 0.0])  # an own prior, on neutral
    pooled = torch.randn(4, 8)
    ids = torch.tensor([0, 1, 2, 1])
    t, s = priors(shared_t(pooled), shared_s(pooled), ids, pooled)
    # The news rows (index 2) and topic rows keep the shared head's logits exactly.
    assert torch.equal(s[[0, 2]], shared_s(pooled)[[0, 2]])
    assert torch.equal(t, shared_t(pooled))
    # The tweet rows read their own head (a copy of the shared one at the start), without the
    # offset, which only applies to rows that read the shared head.
    assert torch.allclose(s[[1, 3]], shared_s(pooled)[[1, 3]])
    torch.nn.functional.cross_entropy(s[[1, 3]], torch.tensor([0, 2])).backward()
    grad = shared_s.weight.grad
    assert grad is None or not grad.any()  # their labels never reach the shipped head
    assert priors.heads["1"].weight.grad is not None

    # Without an own head, the offset moves that source's rows only.
    plain = SourcePriors((DEFAULT_SOURCES[0], replace(DEFAULT_SOURCES[1], own_prior=True)), 8)
    with torch.no_grad():
        plain.sentiment[1] += torch.tensor([0.0, 5.0, 0.0])
        plain.sentiment[0] += 1.0  # a source without own_prior: masked out
    logits = shared_s(pooled[:2])
    _, s2 = plain(shared_t(pooled[:2]), logits, torch.tensor([0, 1]))
    assert torch.equal(s2[0], logits[0])
    assert torch.allclose(s2[1], logits[1] + torch.tensor([0.0, 5.0, 0.0]))


def test_training_with_an_own_head_saves_a_plain_model(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    from classify.model import load_model
    from classify.training.sources import DEFAULT_SOURCES

    base, data = toy
    sources = (
        DEFAULT_SOURCES[0],
        replace(DEFAULT_SOURCES[1], own_prior=True, own_head=True),
        DEFAULT_SOURCES[2],
    )
    result = train(toy_config(base, data, tmp_path / "m", sources=sources))
    assert result.holdout["sources"]["sentfin-news"]["accuracy"] == 1.0
    _, _, version = load_model(tmp_path / "m")  # strict: no training-only weights in it
    assert version == result.model_version
    record = json.loads((tmp_path / "m" / "training.json").read_text())
    assert record["data"]["twitter-sentiment"]["own_prior"] is True
    assert set(record["source_priors"]) == {"twitter-sentiment"}


def test_a_source_with_its_own_prior_or_head_learns_its_labels_apart(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    """Tweets that read news-style bad and good news as "neutral": an own prior takes up how
    often they say neutral, an own head what they mean by it; the shipped head keeps the news'
    reading only with the head apart."""
    from classify.training.sources import DEFAULT_SOURCES

    base, toy_data = toy
    data = tmp_path / "data"
    shutil.copytree(toy_data, data)
    tweets = data / "twitter-financial-news-sentiment" / "train.csv"
    with tweets.open("a") as f:
        # The news toy headlines, labelled neutral as tweets.
        for i in range(40):
            for text in ("stocks down on loss", "stocks up on profit"):
                f.write(f"{text} {'acme' if i % 2 else 'apple'},2\n")

    def run(name: str, **tweet_source: bool) -> Any:
        tw = replace(DEFAULT_SOURCES[1], **tweet_source)
        sources = (DEFAULT_SOURCES[0], tw, DEFAULT_SOURCES[2])
        return train(toy_config(base, data, tmp_path / name, sources=sources))

    def news_accuracy(result: Any) -> float:
        return float(result.holdout["sources"]["sentfin-news"]["accuracy"])

    shared = run("shared")
    assert news_accuracy(shared) < 1.0  # one head cannot read the same words two ways
    prior = run("prior", own_prior=True)
    offsets = prior.source_priors["twitter-sentiment"]["sentiment"]
    assert offsets["neutral"] - max(offsets["negative"], offsets["positive"]) > 0.5, offsets
    head = run("head", own_prior=True, own_head=True)
    assert news_accuracy(head) == 1.0


def test_a_fine_tune_starts_from_the_given_model_and_records_it(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    base, data = toy
    first = train(toy_config(base, data, tmp_path / "first"))
    tuned = train(
        toy_config(base, data, tmp_path / "tuned", init_from=tmp_path / "first", epochs=1)
    )
    assert tuned.init_version == first.model_version
    # One epoch from a model that already reads the toy task: it reads it from the first step.
    assert tuned.holdout["sources"]["sentfin-news"]["accuracy"] == 1.0
    record = json.loads((tmp_path / "tuned" / "training.json").read_text())
    assert record["init_from"]["model_version"] == first.model_version
    assert (
        f"Fine-tuned from `{tmp_path / 'first'}` (version `{first.model_version}`)"
        in (tmp_path / "tuned" / "README.md").read_text()
    )


def test_a_run_on_one_heads_sources_calibrates_that_head_and_leaves_the_other(
    toy: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A news-only teacher labels no topic rows: its topic head has nothing to be calibrated
    on, so it is left as it is (no NaN, no warning), while the sentiment head gets its
    temperature, and the training log and model card still read."""
    from classify.training.sources import DEFAULT_SOURCES

    base, data = toy
    caplog.set_level("INFO")
    result = train(toy_config(base, data, tmp_path / "news", sources=(DEFAULT_SOURCES[2],)))
    assert result.calibration["topic"] == {"temperature": 1.0}
    assert (
        result.calibration["sentiment"]["holdout_nll_after"]
        <= (result.calibration["sentiment"]["holdout_nll_before"])
    )
    assert not [r for r in caplog.records if r.levelname == "WARNING" and "topic" in r.message]
    assert "topic head: no holdout rows" in caplog.text
    card = (tmp_path / "news" / "README.md").read_text()
    assert "sentiment T = " in card and "topic T = " not in card


def test_a_run_with_a_headline_style_source_records_it_and_the_card_says_so(
    toy: tuple[Path, Path], tmp_path: Path
) -> None:
    """The topic files read as headlines join training as a declared source: the record keeps
    its style (so the holdout can be rebuilt the same way) and the card names it."""
    from classify.training.posthoc import trained_sources
    from classify.training.sources import DEFAULT_SOURCES, HEADLINE_TOPIC_SOURCE

    base, data = toy
    sources = (*DEFAULT_SOURCES, replace(HEADLINE_TOPIC_SOURCE, weight=0.5))
    out = tmp_path / "styled"
    train(toy_config(base, data, out, epochs=1, sources=sources))
    record = json.loads((out / "training.json").read_text())
    assert record["data"]["twitter-topic-headlines"]["style"] == "headline"
    assert "style" not in record["data"]["twitter-topic"]
    assert trained_sources(record) == sources
    assert "| twitter-topic-headlines (read as headlines) |" in (out / "README.md").read_text()
