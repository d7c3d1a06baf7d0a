"""Fine-tuning: both heads at once with a masked multi-task loss, early stopping on a held-out
slice of the train files. Nothing in here reads the validation files."""

from __future__ import annotations

import copy
import functools
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from classify.batching import length_grouped_batches, pad
from classify.hardware import native_bf16
from classify.model import (
    load_model,
    new_model,
    save_model,
)
from classify.predictor import Predictor, configure_cpu_threads, pick_device
from classify.sanitize import model_text
from classify.training.augment import augmented_texts, spliced_texts
from classify.training.calibration import calibrate
from classify.training.card import write_card
from classify.training.checkpoint import (
    ResumeError,
    TrainingInterrupted,
    check_resumable,
    checkpoint_path,
    load_checkpoint,
    remove_checkpoint,
    run_identity,
    save_checkpoint,
)
from classify.training.config import TrainConfig, TrainConfigError, TrainResult
from classify.training.data import Example, holdout, load_sources
from classify.training.distill import soften, teacher_probabilities
from classify.training.features import FeatureMatcher, FeatureTargets, teacher_vectors
from classify.training.record import hyperparameters, train_sha256, write_training_record
from classify.training.resize import prune_vocabulary, resize_layers
from classify.training.selection import holdout_line, holdout_report, holdout_score
from classify.training.source_priors import SourcePriors
from classify.training.steps import (
    batch_loss,
    linear_schedule,
    make_optimizer,
    optimizer_step,
    seed_everything,
    unwrap_lora,
    wrap_lora,
)
from classify.training.weights import correct_priors, head_weights

log = logging.getLogger(__name__)


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
    if cfg.splice < 0 or (cfg.splice and not cfg.teachers):
        raise TrainConfigError(
            "splice needs teachers (--teacher) and a value of 0 or more: a spliced headline "
            "has no gold label, only the teachers' reading of it"
        )
    if cfg.feature_weight < 0 or (cfg.feature_weight and not cfg.teachers):
        raise TrainConfigError(
            "feature_weight needs a teacher (--teacher: its pooled vectors are the targets) "
            "and a value of 0 or more"
        )
    if cfg.adversarial_epsilon < 0 or (cfg.adversarial_epsilon and cfg.lora):
        raise TrainConfigError(
            "adversarial_epsilon must be 0 or more, and works on full fine-tuning only (LoRA "
            "freezes the word embeddings it would push): drop --lora or the epsilon"
        )
    if not cfg.distill_heads or set(cfg.distill_heads) - {"topic", "sentiment"}:
        raise TrainConfigError("distill_heads must name 'topic', 'sentiment' or both")
    if cfg.distill_sources is not None:
        unknown = set(cfg.distill_sources) - {s.name for s in cfg.sources}
        if unknown or not cfg.distill_sources:
            raise TrainConfigError(
                f"distill_sources names {sorted(unknown) or 'nothing'}: name one or more of "
                f"the sources trained on ({', '.join(s.name for s in cfg.sources)})"
            )
        if not cfg.teachers:
            raise TrainConfigError("distill_sources picks rows for the teachers: add --teacher")
    if cfg.topic_teachers and cfg.teachers and "topic" in cfg.distill_heads:
        raise TrainConfigError(
            "the topic head would learn from --teacher and --topic-teacher at once: add "
            "--distill-head sentiment, so --teacher gives the sentiment head only"
        )
    if any(t.resolve() == cfg.output_dir.resolve() for t in cfg.teachers + cfg.topic_teachers):
        raise TrainConfigError("a teacher cannot be the output directory: training overwrites it")
    started = time.monotonic()
    ckpt_path = checkpoint_path(cfg.output_dir)
    identity = run_identity(hyperparameters(cfg), train_sha256(cfg))
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
    # Train rows that get the teachers' soft targets (all of them unless distill_sources).
    chosen = [
        i
        for i, ex in enumerate(train_ex)
        if cfg.distill_sources is None or ex.source in cfg.distill_sources
    ]
    if cfg.teachers and not chosen:
        raise TrainConfigError(
            f"no train rows of {', '.join(cfg.distill_sources or ())} are left after the "
            "holdout: name another source with --distill-source, or check its train file"
        )
    # Copies are of the distilled rows only: a copy learns from the teachers alone.
    distilled = [train_ex[i].text for i in chosen]
    copies = augmented_texts(distilled, cfg.augment, cfg.augment_seed)
    if copies:
        log.info("%d perturbed copies added, labelled by the teachers only", len(copies))
    splices = spliced_texts(distilled, cfg.splice, cfg.augment_seed)
    if splices:
        log.info("%d spliced headlines added, labelled by the teachers only", len(splices))
    copies += splices
    rows = train_ex + [Example(text=text) for text in copies]  # copies: both heads masked

    init_version: str | None = None
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
        wrap_lora(model, cfg)
    model.to(device)

    ids = tokenizer(
        [model_text(ex.text) for ex in rows], truncation=True, max_length=cfg.max_length
    )["input_ids"]
    soft: tuple[Tensor, Tensor] | None = None
    teacher_versions: list[str] = []
    if saved is not None and saved["soft"] is not None:
        # Scoring the train files with a base-size teacher takes tens of minutes: kept.
        soft, teacher_versions = saved["soft"], saved["teacher_versions"]
    elif cfg.teachers or cfg.topic_teachers:
        soft, teacher_versions = _soft_targets(cfg, train_ex, chosen, copies)
    feats: FeatureTargets | None = None
    if saved is not None and saved.get("features") is not None:
        feats = FeatureTargets(**saved["features"])
    elif cfg.feature_weight:
        feats = _feature_targets(cfg, train_ex, chosen, copies)
    matcher: FeatureMatcher | None = None
    if feats is not None:
        matcher = FeatureMatcher(model.sentiment_head.in_features, feats.width)
        if saved is None:
            # Started at the least-squares map from the student's vectors as they are, so
            # the encoder's first gradients come from a read-out, not a random projection.
            texts = [rows[i].text for i in feats.rows()]
            student = Predictor(model, tokenizer, "init", device=device).pooled(texts)
            matcher.fit(torch.from_numpy(student), feats.vectors)
            with torch.no_grad():
                every = torch.ones(len(texts), dtype=torch.bool)
                start = float(matcher.loss(torch.from_numpy(student), feats.vectors, every))
            log.info("read-out fitted: 1 - cosine %.3f on %d rows at the start", start, len(texts))
        matcher.to(device)
    topic_y = torch.tensor([ex.topic for ex in rows])
    sentiment_y = torch.tensor([ex.sentiment for ex in rows])
    source_index = {s.name: i for i, s in enumerate(cfg.sources)}
    # Copies carry no gold label: their source index only picks a (masked-out) prior row.
    source_y = torch.tensor([source_index.get(ex.source, 0) for ex in rows])
    row_w = torch.tensor([ex.weight for ex in rows], dtype=torch.float32)
    priors = SourcePriors(cfg.sources, hidden=model.sentiment_head.in_features)
    priors.start_from(model.topic_head, model.sentiment_head)
    priors.to(device)
    t_weight, s_weight = head_weights(train_ex, cfg.class_weighting)
    t_weight = t_weight.to(device) if t_weight is not None else None
    s_weight = s_weight.to(device) if s_weight is not None else None

    rng = random.Random(cfg.seed)
    lengths = [len(x) for x in ids]
    steps_per_epoch = math.ceil(len(ids) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    optimizer = make_optimizer(model, cfg)
    if priors.active:
        offsets = [priors.topic, priors.sentiment]
        optimizer.add_param_group(
            {"params": offsets, "weight_decay": 0.0, "lr": cfg.source_learning_rate}
        )
        if len(priors.heads):
            # An own head starts as the shared head and has to move apart from it: heads train
            # at ten times the encoder's rate, as is usual when fine-tuning.
            optimizer.add_param_group(
                {"params": list(priors.heads.parameters()), "lr": cfg.learning_rate * 10}
            )
    if matcher is not None:
        # A training-only read-out like an own head: it trains at ten times the encoder's rate.
        read_out = list(matcher.parameters())
        optimizer.add_param_group(
            {"params": read_out, "weight_decay": 0.0, "lr": cfg.learning_rate * 10}
        )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, linear_schedule(total, int(total * cfg.warmup_ratio))
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
        if matcher is not None:
            matcher.load_state_dict(saved["matcher"])
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
                "features": feats.state() if feats is not None else None,
                "matcher": matcher.state_dict() if matcher is not None else None,
                "teacher_versions": teacher_versions,
                "rng": _rng_states(device),
                "progress": asdict(run) | {"seconds": run.seconds + time.monotonic() - started},
            },
        )

    if stop_requested is not None and stop_requested():
        # Asked to stop during set-up (teacher scoring can take tens of minutes): keep it.
        checkpoint()
        raise TrainingInterrupted(run.step, total, ckpt_path)

    def loss_of(batch: list[int]) -> Tensor:
        input_ids, mask = pad([ids[i] for i in batch], pad_id)
        targets = None
        if soft is not None:
            targets = (soft[0][batch].to(device), soft[1][batch].to(device))
        return batch_loss(
            model,
            input_ids.to(device),
            mask.to(device),
            (topic_y[batch].to(device), sentiment_y[batch].to(device)),
            weights=(t_weight, s_weight),
            soft=targets,
            rows=(source_y[batch].to(device), row_w[batch].to(device)),
            priors=priors if priors.active else None,
            features=(
                (matcher, *feats.batch(batch, device))
                if matcher is not None and feats is not None
                else None
            ),
            cfg=cfg,
        )

    while run.epoch <= cfg.epochs:
        if run.epoch_rng is None:
            run.epoch_rng = rng.getstate()
        rng.setstate(run.epoch_rng)
        batches = length_grouped_batches(lengths, cfg.batch_size, rng)
        model.train()
        for batch in batches[run.batches_done :]:
            if run.step >= total:
                break
            loss = loss_of(batch)
            optimizer_step(
                model,
                optimizer,
                loss,
                cfg.grad_clip,
                adversarial=functools.partial(loss_of, batch),
                epsilon=cfg.adversarial_epsilon,
            )
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
        score = holdout_score(report)
        log.info("epoch %d: holdout score %.4f %s", run.epoch, score, holdout_line(report))
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
        unwrap_lora(kept)
    calibration: dict[str, Any] = {}
    if cfg.calibrate:
        calibration = calibrate(kept, Predictor(kept, tokenizer, "train", device=device), held_ex)
        log.info(
            "calibrated: %s",
            " ".join(
                f"{h} T={c['temperature']:.3f} (holdout ECE {c['holdout_ece_before']:.3f} -> "
                f"{c['holdout_ece_after']:.3f})"
                for h, c in calibration.items()
                if "holdout_ece_before" in c  # a head with no holdout rows is left as it is
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
        init_version=init_version,
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


def _soft_targets(
    cfg: TrainConfig, train_ex: list[Example], chosen: list[int], copies: list[str]
) -> tuple[tuple[Tensor, Tensor], list[str]]:
    """The teachers' softened targets for every row (train rows, then copies) and the
    versions of ``cfg.teachers`` then ``cfg.topic_teachers``, as loaded.

    Train rows not in ``chosen`` (the indices of the rows of ``cfg.distill_sources``) are
    never scored by ``cfg.teachers`` and get all-zero targets, which the KL term gives no
    weight (0 · log 0 = 0): they learn from gold alone.
    The KL term stays a mean over the whole batch, so a distilled row weighs in it what it
    weighed when every row was distilled; the term's share of a batch falls with the share of
    distilled rows in it. ``cfg.topic_teachers`` give the topic targets of every row."""
    n = len(train_ex) + len(copies)
    copy_rows = list(range(len(train_ex), n))
    topic: Tensor | None = None
    sentiment: Tensor | None = None
    versions: list[str] = []
    if cfg.teachers:
        if len(chosen) < len(train_ex):
            log.info(
                "soft targets on %d of %d train rows (sources %s)",
                len(chosen),
                len(train_ex),
                ", ".join(cfg.distill_sources or ()),
            )
        t, s, versions = _scored(cfg.teachers, cfg, [train_ex[i].text for i in chosen], copies)
        rows = torch.tensor(chosen + copy_rows, dtype=torch.long)
        topic, sentiment = t.new_zeros(n, t.shape[1]), s.new_zeros(n, s.shape[1])
        topic[rows], sentiment[rows] = t, s
    if cfg.topic_teachers:
        t, s, topic_versions = _scored(
            cfg.topic_teachers, cfg, [ex.text for ex in train_ex], copies
        )
        topic = t
        sentiment = sentiment if sentiment is not None else s.new_zeros(s.shape)
        versions += topic_versions
    assert topic is not None and sentiment is not None  # train() calls this with teachers
    return (topic, sentiment), versions


def _feature_targets(
    cfg: TrainConfig, train_ex: list[Example], chosen: list[int], copies: list[str]
) -> FeatureTargets:
    """The first teacher's pooled vectors for the distilled train rows and the copies (the
    rows that get soft targets), as targets indexed by row number."""
    texts = [train_ex[i].text for i in chosen] + copies
    vectors, _ = teacher_vectors(
        cfg.teachers[0], texts, device=cfg.device, threads=cfg.threads, cache_dir=cfg.teacher_cache
    )
    n = len(train_ex) + len(copies)
    rows = torch.tensor(chosen + list(range(len(train_ex), n)), dtype=torch.long)
    log.info("representation targets: %d rows, width %d", len(rows), vectors.shape[1])
    return FeatureTargets.of_rows(rows, torch.from_numpy(vectors), n)


def _scored(
    teachers: list[Path], cfg: TrainConfig, originals: list[str], copies: list[str]
) -> tuple[Tensor, Tensor, list[str]]:
    """``teachers``' softened targets for the original texts, then the copies. The two are
    scored (and cached) apart: the originals' scores are shared with every run without
    copies."""
    t_parts, s_parts = [], []
    versions: list[str] = []
    for texts in (originals, copies):
        if not texts:
            continue
        t_soft, s_soft, versions = teacher_probabilities(
            teachers,
            texts,
            device=cfg.device,
            threads=cfg.threads,
            cache_dir=cfg.teacher_cache,
            bf16=cfg.bf16,
        )
        t_parts.append(soften(t_soft, cfg.distill_temperature))
        s_parts.append(soften(s_soft, cfg.distill_temperature))
    return torch.cat(t_parts), torch.cat(s_parts), versions


def _set_rng_states(states: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and states["cuda"] is not None:
        torch.cuda.set_rng_state(states["cuda"], device)
