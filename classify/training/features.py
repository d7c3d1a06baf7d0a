"""Representation distillation: the student's pooled vector learns to predict the teacher's.

A teacher's softmax gives three numbers per news row, and on the rows it was taught the student
already matches them (docs/classifier.md: 95.5% agreement on train rows, 88.6% on validation).
The teacher's pooled sentence vector carries far more of how it reads a headline: 768 numbers
per row. A training-only linear map takes the student's pooled vector to the teacher's width,
and the loss is one minus their cosine, so the student's encoder must place each headline where
a linear read-out can recover the teacher's reading of it. The map is not part of the saved
model.

The teacher's vectors are centred on their mean over the rows scored: mean-pooled sentence
vectors share one large common direction, which a cosine would otherwise reward matching.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.nn import functional as F

from classify.model import model_version
from classify.predictor import Predictor, pick_device
from classify.training.distill import cache_key, in_chunks, read_cache, write_cache

log = logging.getLogger(__name__)


def teacher_vectors(
    teacher: Path,
    texts: Sequence[str],
    *,
    device: str = "auto",
    batch_size: int = 128,
    threads: int | None = None,
    cache_dir: Path | None = None,
) -> tuple[NDArray[np.float32], str]:
    """The teacher's pooled vectors of ``texts``, (N, teacher hidden), and its version.

    With ``cache_dir`` they are kept there like the teachers' soft targets (keyed by the
    teacher's version, the texts and the device type) and read back by a later run.
    """
    version = model_version(teacher)
    cache = None
    if cache_dir is not None:
        key = cache_key([version, "pooled"], texts, pick_device(device).type, False)
        cache = cache_dir / f"{key}.npz"
        cached = read_cache(cache, ("pooled",), len(texts))
        if cached is not None:
            log.info("teacher %s: pooled vectors read from %s", version, cache)
            return cached[0], version
    # One worker, as for soft targets: loading an engine sets the process's thread count.
    engine = Predictor.from_dir(
        teacher, device=device, batch_size=batch_size, threads=threads, workers=1
    )
    parts = in_chunks(engine.pooled, texts, f"teacher {teacher} ({version}) pooled vectors")
    width = engine.model.topic_head.in_features
    vectors = np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.float32)
    if cache is not None:
        write_cache(cache, pooled=vectors)
    return vectors, version


class FeatureTargets:
    """The centred teacher vectors of the rows that have one, and each row's index into them
    (-1: none), so that a batch of row numbers looks its targets up."""

    def __init__(self, index: Tensor, vectors: Tensor) -> None:
        self.index, self.vectors = index, vectors

    @classmethod
    def of_rows(cls, rows: Tensor, vectors: Tensor, n_rows: int) -> FeatureTargets:
        """Targets for rows ``rows`` (of ``n_rows``) from their raw teacher vectors."""
        if len(rows) != len(vectors):
            raise ValueError(f"{len(rows)} row numbers for {len(vectors)} teacher vectors")
        index = torch.full((n_rows,), -1, dtype=torch.long)
        index[rows] = torch.arange(len(rows))
        return cls(index, (vectors - vectors.mean(dim=0, keepdim=True)).float())

    def rows(self) -> list[int]:
        """The row numbers that have a target, in the order of :attr:`vectors`."""
        order = torch.argsort(self.index)
        return [int(i) for i in order[self.index[order] >= 0]]

    @property
    def width(self) -> int:
        return int(self.vectors.shape[1])

    def batch(self, rows: list[int], device: torch.device) -> tuple[Tensor, Tensor]:
        """The targets (B, width) of ``rows`` and which of them have one (B,) bool."""
        index = self.index[rows]
        present = index >= 0
        return self.vectors[index.clamp(min=0)].to(device), present.to(device)

    def state(self) -> dict[str, Tensor]:
        """What a checkpoint keeps; :meth:`__init__` takes it back."""
        return {"index": self.index, "vectors": self.vectors}


class FeatureMatcher(nn.Module):
    """The training-only map from the student's pooled vector to the teacher's width."""

    def __init__(self, student_width: int, teacher_width: int) -> None:
        super().__init__()
        self.project = nn.Linear(student_width, teacher_width)

    @torch.no_grad()
    def fit(self, student: Tensor, teacher: Tensor, ridge: float = 1e-3) -> None:
        """Set the map to the ridge least-squares fit of ``teacher`` (N, T) from ``student``
        (N, S) vectors of the same rows."""
        x = torch.cat([student.float(), student.new_ones(len(student), 1)], dim=1)
        penalty = torch.eye(x.shape[1])
        penalty[-1, -1] = 0.0  # the bias is not shrunk
        gram = x.T @ x + ridge * len(x) * penalty
        solution = torch.linalg.solve(gram, x.T @ teacher.float())  # (S + 1, T)
        self.project.weight.copy_(solution[:-1].T)
        self.project.bias.copy_(solution[-1])

    def loss(self, pooled: Tensor, targets: Tensor, present: Tensor) -> Tensor:
        """Sum of 1 - cos(projected student vector, teacher vector) over the rows that have a
        target, divided by the batch size: like the soft-target term, a mean over the whole
        batch, so a row weighs the same whatever share of the batch has targets."""
        if not bool(present.any()):
            return pooled.new_zeros((), dtype=torch.float32)
        projected = self.project(pooled[present].float())
        cosine = F.cosine_similarity(projected, targets[present].float(), dim=-1)
        return (1.0 - cosine).sum() / len(pooled)
