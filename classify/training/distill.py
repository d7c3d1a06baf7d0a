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

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torch.nn import functional as F

from classify.model import model_version
from classify.predictor import Predictor, pick_device

log = logging.getLogger(__name__)
T = TypeVar("T")


def teacher_probabilities(
    teachers: Sequence[Path],
    texts: Sequence[str],
    *,
    device: str = "auto",
    batch_size: int = 128,
    threads: int | None = None,
    cache_dir: Path | None = None,
    bf16: bool = False,
) -> tuple[NDArray[np.float32], NDArray[np.float32], list[str]]:
    """Mean of the teachers' softmax outputs, (N, topics) and (N, sentiments), and the
    version of each teacher as loaded (recorded with the student).

    ``bf16``: score under bf16 autocast on a CPU too (about twice as fast where the CPU has
    bf16 dot products; CUDA always scores in bf16).

    With ``cache_dir``, the result is kept there under a key made of the teachers' versions,
    the texts, the device type and the precision, and read back by any later run with the same
    four: scoring the train files with a base-size teacher takes tens of minutes on a small CPU.
    """
    if not teachers:
        raise ValueError("distillation needs at least one teacher model directory")
    versions = [model_version(t) for t in teachers]
    cache = None
    if cache_dir is not None:
        device_type = pick_device(device).type
        cache = cache_dir / f"{cache_key(versions, texts, device_type, bf16)}.npz"
        cached = read_cache(cache, ("topic", "sentiment"), len(texts))
        if cached is not None:
            log.info("teachers %s: soft targets read from %s", ", ".join(versions), cache)
            return cached[0], cached[1], versions
    topic, sentiment = _score_all(teachers, texts, device, batch_size, threads, bf16)
    if cache is not None:
        write_cache(cache, topic=topic, sentiment=sentiment)
    return topic, sentiment, versions


def _score_all(
    teachers: Sequence[Path],
    texts: Sequence[str],
    device: str,
    batch_size: int,
    threads: int | None,
    bf16: bool,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    topic, sentiment = [], []
    for directory in teachers:
        # Same CPU thread count as the training run (loading an engine sets it process-wide):
        # one worker, or the training steps after it would run on threads / workers.
        engine = Predictor.from_dir(
            directory,
            device=device,
            batch_size=batch_size,
            threads=threads,
            workers=1,
            bf16=bf16,
        )
        t, s = _score(engine, texts, str(directory))
        topic.append(t)
        sentiment.append(s)
    return np.mean(topic, axis=0, dtype=np.float32), np.mean(sentiment, axis=0, dtype=np.float32)


def cache_key(versions: Sequence[str], texts: Sequence[str], device_type: str, bf16: bool) -> str:
    """The file name of the scores of ``texts`` by models ``versions`` on ``device_type``."""
    parts: list[object] = [list(versions), device_type]
    if bf16 and device_type == "cpu":
        # Only then does the precision differ from the device's own; fp32 CPU scores keep the
        # key they were cached under before bf16 scoring existed.
        parts.append("bf16")
    digest = hashlib.sha256(json.dumps(parts).encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()[:32]


def read_cache(path: Path, names: Sequence[str], rows: int) -> list[NDArray[np.float32]] | None:
    """The arrays ``names`` of a cache file, or None (then score again) when it is missing,
    unreadable or holds another row count."""
    if not path.exists():
        return None
    try:
        with np.load(path) as saved:
            arrays = [saved[name] for name in names]
    except (OSError, KeyError, ValueError) as exc:
        log.warning("ignoring unreadable score cache %s (%s); scoring again", path, exc)
        return None
    if any(len(a) != rows for a in arrays):
        log.warning("ignoring score cache %s: not %d rows", path, rows)
        return None
    return [a.astype(np.float32) for a in arrays]


def write_cache(path: Path, **arrays: NDArray[np.float32]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")  # renamed when whole: never a torn cache file
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _score(
    engine: Predictor, texts: Sequence[str], name: str
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The engine's probabilities in chunks, logging progress (minutes on a small CPU)."""
    if not texts:
        return engine.probabilities([])
    parts = in_chunks(engine.probabilities, texts, f"teacher {name} ({engine.version})")
    return np.concatenate([t for t, _ in parts]), np.concatenate([s for _, s in parts])


def in_chunks(
    score: Callable[[Sequence[str]], T], texts: Sequence[str], name: str, chunk: int = 2048
) -> list[T]:
    """``score`` of ``texts`` a chunk at a time, logging ``name``'s progress after each."""
    parts = []
    for start in range(0, len(texts), chunk):
        parts.append(score(texts[start : start + chunk]))
        log.info("%s: %d/%d texts scored", name, min(start + chunk, len(texts)), len(texts))
    return parts


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
    heads: tuple[str, ...] = ("topic", "sentiment"),
) -> Tensor:
    """KL(teacher || student) at temperature T for the ``heads`` named, scaled by T² (Hinton et
    al.) so its gradients stay comparable to the hard-label loss as T changes."""
    total = topic_logits.new_zeros(())
    pairs = {
        "topic": (topic_logits, topic_targets),
        "sentiment": (sentiment_logits, sentiment_targets),
    }
    for logits, targets in (pairs[h] for h in heads):
        log_student = F.log_softmax(logits.float() / temperature, dim=-1)
        total = total + F.kl_div(log_student, targets, reduction="batchmean")
    return total * temperature**2
