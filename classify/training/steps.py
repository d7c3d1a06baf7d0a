"""One optimiser step and what it is built from: the seed, the optimiser and its schedule, the
mini-batch loss, and the LoRA wrapping. The training loop and the step-time benchmark share
these."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

from classify.model import (
    HeadlineClassifier,
    multitask_loss,
)
from classify.training.config import TrainConfig
from classify.training.distill import distillation_loss
from classify.training.features import FeatureMatcher
from classify.training.source_priors import SourcePriors


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
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


def linear_schedule(total: int, warmup: int) -> Callable[[int], float]:
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
    features: tuple[FeatureMatcher, Tensor, Tensor] | None = None,
) -> Tensor:
    """One mini-batch's training loss: the masked multi-task loss on the gold labels, mixed
    with the distillation loss on the teachers' soft targets when there are any, plus the
    representation term when ``features`` (the matcher, the teacher vectors and which rows
    have one) are given.

    ``rows``: each row's source index and loss weight; ``priors`` adds the per-source label
    offsets to the logits of the gold-label loss only (the teachers know no sources)."""
    own_heads = priors is not None and len(priors.heads) > 0
    pooled = None
    with torch.autocast(input_ids.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        if own_heads or features is not None:
            pooled = model.pool(input_ids, mask)
            t_logits, s_logits = model.topic_head(pooled), model.sentiment_head(pooled)
        else:
            t_logits, s_logits = model(input_ids, mask)
    # Losses in fp32: log-softmax and the soft-target terms need more than bf16's 8 bits.
    t_logits, s_logits = t_logits.float(), s_logits.float()
    gold_t, gold_s = t_logits, s_logits
    if priors is not None and rows is not None:
        with torch.autocast(input_ids.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            gold_t, gold_s = priors(t_logits, s_logits, rows[0], pooled)
    loss = multitask_loss(
        gold_t,
        gold_s,
        labels[0],
        labels[1],
        weights[0],
        weights[1],
        row_weight=rows[1] if rows is not None else None,
    )
    if soft is not None:
        kd = distillation_loss(
            t_logits, s_logits, soft[0], soft[1], cfg.distill_temperature, cfg.distilled_heads()
        )
        loss = (1 - cfg.distill_weight) * loss + cfg.distill_weight * kd
    if features is not None:
        assert pooled is not None  # computed above whenever features are given
        matcher, targets, present = features
        loss = loss + cfg.feature_weight * matcher.loss(pooled, targets, present)
    return loss


def optimizer_step(
    model: HeadlineClassifier,
    optimizer: torch.optim.Optimizer,
    loss: Tensor,
    grad_clip: float,
    *,
    adversarial: Callable[[], Tensor] | None = None,
    epsilon: float = 0.0,
) -> None:
    """Backward, clip the gradients' global norm, update.

    With ``adversarial`` (the batch's loss again) and ``epsilon`` > 0, adversarial training
    (FGM, Miyato et al. 2017): after the first backward the word embeddings are pushed by
    ``epsilon`` along their gradient, the direction that hurts this batch most, the loss is
    taken again there and its gradients are added, then the embeddings are put back. The step
    learns from both, so a word whose embedding moves a little does not flip the reading."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if adversarial is not None and epsilon > 0:
        with perturbed_embeddings(model, epsilon):
            adversarial().backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()


@contextmanager
def perturbed_embeddings(model: HeadlineClassifier, epsilon: float) -> Iterator[None]:
    """The word-embedding matrix moved by ``epsilon`` (in its Frobenius norm) along its
    current gradient inside the block, exactly as before after it. Only the rows of the
    batch's words have a gradient, so only they move."""
    weight = model.encoder.get_input_embeddings().weight
    grad = weight.grad
    norm = grad.norm() if grad is not None else torch.zeros(())
    if grad is None or not torch.isfinite(norm) or norm == 0:
        yield  # nothing to move along: the adversarial loss is the plain one again
        return
    saved = weight.detach().clone()
    with torch.no_grad():
        weight.add_(grad, alpha=float(epsilon / norm))
    try:
        yield
    finally:
        with torch.no_grad():
            weight.copy_(saved)


def wrap_lora(model: HeadlineClassifier, cfg: TrainConfig) -> None:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=["query", "key", "value", "dense"],
    )
    model.encoder = get_peft_model(model.encoder, lora)


def unwrap_lora(model: HeadlineClassifier) -> None:
    model.encoder = model.encoder.merge_and_unload()
