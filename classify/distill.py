"""Knowledge distillation: soft targets from trained teacher models for both heads on every row.

Two things make a student better than training on the gold labels alone:

- *Cross-task targets.* Each train row carries only one gold label (a topic row has no
  sentiment label and vice versa); the teachers give the missing head a soft label, so the
  sentiment head learns from the ~17k topic rows too, and the other way round.
- *Dark knowledge.* A teacher's full distribution (which wrong classes are plausible) is a
  richer signal than one-hot labels; averaging several teachers (an ensemble trained with
  different seeds) removes part of each one's noise.

Teachers are Tapewatch model directories trained on the same train files; they never see the
validation splits, so distilling from them keeps the evaluation honest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torch.nn import functional as F

from classify.predictor import Predictor

log = logging.getLogger(__name__)


def teacher_probabilities(
    teachers: Sequence[Path],
    texts: Sequence[str],
    *,
    device: str = "auto",
    batch_size: int = 128,
    threads: int | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32], list[str]]:
    """Mean of the teachers' softmax outputs, (N, topics) and (N, sentiments), and the
    version of each teacher as loaded (recorded with the student)."""
    if not teachers:
        raise ValueError("distillation needs at least one teacher model directory")
    topic, sentiment, versions = [], [], []
    for directory in teachers:
        # Same CPU thread count as the training run (loading an engine sets it process-wide).
        engine = Predictor.from_dir(
            directory, device=device, batch_size=batch_size, threads=threads
        )
        t, s = _score(engine, texts, str(directory))
        topic.append(t)
        sentiment.append(s)
        versions.append(engine.version)
    return (
        np.mean(topic, axis=0, dtype=np.float32),
        np.mean(sentiment, axis=0, dtype=np.float32),
        versions,
    )


def _score(
    engine: Predictor, texts: Sequence[str], name: str, chunk: int = 2048
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The engine's probabilities in chunks, logging progress (minutes on a small CPU)."""
    if not texts:
        return engine.probabilities([])
    topic, sentiment = [], []
    for start in range(0, len(texts), chunk):
        t, s = engine.probabilities(texts[start : start + chunk])
        topic.append(t)
        sentiment.append(s)
        done = min(start + chunk, len(texts))
        log.info("teacher %s (%s): %d/%d texts scored", name, engine.version, done, len(texts))
    return np.concatenate(topic), np.concatenate(sentiment)


def soften(probabilities: NDArray[np.float32], temperature: float) -> Tensor:
    """Re-temper probabilities: softmax(logits / T) equals p ** (1 / T), renormalised.

    Works from probabilities because the log-softmax differs from the logits only by a
    per-row constant, which the renormalisation removes.
    """
    logp = torch.log(torch.from_numpy(probabilities).clamp_min(1e-12)) / temperature
    return torch.softmax(logp, dim=-1)


def distillation_loss(
    topic_logits: Tensor,
    sentiment_logits: Tensor,
    topic_targets: Tensor,
    sentiment_targets: Tensor,
    temperature: float,
) -> Tensor:
    """KL(teacher || student) at temperature T for both heads, scaled by T² (Hinton et al.) so
    its gradients stay comparable to the hard-label loss as T changes."""
    total = topic_logits.new_zeros(())
    for logits, targets in ((topic_logits, topic_targets), (sentiment_logits, sentiment_targets)):
        log_student = F.log_softmax(logits.float() / temperature, dim=-1)
        total = total + F.kl_div(log_student, targets, reduction="batchmean")
    return total * temperature**2
