"""Entity sentiment inference: (entity, headline) pairs in, a verdict per pair out, batched and
length-sorted like the headline engine (``classify/predictor.py``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from classify.batching import sorted_batches
from classify.sanitize import model_text
from entities.model import EntitySentimentModel, load_entity_model


@dataclass(frozen=True, slots=True)
class EntityVerdict:
    sentiment: str
    confidence: float
    negative_probability: float
    model_version: str


def pad_pairs(rows: Sequence[dict[str, list[int]]], pad_id: int) -> tuple[torch.Tensor, ...]:
    """Right-pad tokenised pairs to the longest: (input_ids, attention_mask, token_type_ids)."""
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    types = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        mask[i, :n] = 1
        types[i, :n] = torch.tensor(r["token_type_ids"])
    return ids, mask, types


def mark(title: str, entity: str) -> str:
    """``title`` with the first mention of ``entity`` (any case) wrapped in brackets."""
    i = title.lower().find(entity.lower())
    if i < 0 or not entity:
        return title
    j = i + len(entity)
    return f"{title[:i]}[ {title[i:j]} ]{title[j:]}"


def encode_pairs(
    tokenizer: Any, pairs: Sequence[tuple[str, str]], max_length: int, *, marked: bool = False
) -> list[Any]:
    """Tokenise (entity, headline) pairs; only the headline is ever truncated. ``marked``:
    the entity's mention in the headline is bracketed (``EntityModelConfig.mark_entity``)."""
    encoded = tokenizer(
        [model_text(e) for e, _ in pairs],
        [model_text(mark(t, e) if marked else t) for e, t in pairs],
        truncation="only_second",
        max_length=max_length,
    )
    return [
        {"input_ids": i, "token_type_ids": t}
        for i, t in zip(encoded["input_ids"], encoded["token_type_ids"], strict=True)
    ]


class EntitySentiment:
    """The loaded entity model; ``predict`` is called from the classify stage's model thread."""

    def __init__(
        self,
        model: EntitySentimentModel,
        tokenizer: Any,
        version: str,
        *,
        device: torch.device | None = None,
        max_length: int | None = None,
        batch_size: int = 64,
        bf16: bool = False,
        workers: int = 1,
    ) -> None:
        self.device = device or torch.device("cpu")
        # As in the headline engine: on a CPU, buckets run at once on their own threads (the
        # classify worker gives torch one intra-op thread per worker, so one bucket alone
        # would use one core).
        self.workers = max(1, workers) if self.device.type == "cpu" else 1
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.version = version
        self.max_length = max_length or model.config.max_length
        self.batch_size = batch_size
        self.sentiments = list(model.config.sentiments)
        self._negative = self.sentiments.index("negative")
        self._autocast = self.device.type == "cuda" or bf16

    @classmethod
    def from_dir(
        cls,
        directory: Path,
        *,
        device: str | torch.device = "cpu",
        max_length: int | None = None,
        batch_size: int = 64,
        bf16: bool = False,
        int8: bool = False,
        workers: int = 1,
    ) -> EntitySentiment:
        """``int8``: dynamic int8 weights on a CPU (where bf16 is not native, it roughly halves
        the entity pass; docs/entities.md); its verdicts carry the version with ``-int8``."""
        model, tokenizer, version = load_entity_model(directory)
        if int8:
            if torch.device(device).type != "cpu":
                raise ValueError("int8 dynamic quantisation is a CPU option; drop it on CUDA")
            if bf16:
                raise ValueError("int8 and bf16 are two different precisions; choose one")
            from classify.predictor import quantize_linear_int8

            model, version = quantize_linear_int8(model), f"{version}-int8"
        return cls(
            model,
            tokenizer,
            version,
            device=torch.device(device),
            max_length=max_length,
            batch_size=batch_size,
            bf16=bf16,
            workers=workers,
        )

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> NDArray[np.float32]:
        """Softmax over the sentiments, (N, 3), in input order."""
        out = np.zeros((len(pairs), len(self.sentiments)), dtype=np.float32)
        if not pairs:
            return out
        rows = encode_pairs(
            self.tokenizer, pairs, self.max_length, marked=self.model.config.mark_entity
        )
        pad_id = self.tokenizer.pad_token_id or 0
        lengths = [len(r["input_ids"]) for r in rows]

        def run(batch: list[int]) -> None:
            # inference_mode and autocast are thread-local: entered in the thread that runs.
            with torch.inference_mode():
                ids, mask, types = (
                    t.to(self.device) for t in pad_pairs([rows[i] for i in batch], pad_id)
                )
                autocast = torch.autocast(
                    self.device.type, dtype=torch.bfloat16, enabled=self._autocast
                )
                with autocast:
                    logits = self.model(ids, mask, types)
                out[batch] = torch.softmax(logits.float(), dim=-1).cpu().numpy()

        bucket = min(self.batch_size, math.ceil(len(rows) / self.workers))
        batches = list(sorted_batches(lengths, bucket))
        if self._pool is not None and len(batches) > 1:
            list(self._pool.map(run, batches))  # list(): re-raises a worker's exception here
        else:
            for batch in batches:
                run(batch)
        return out

    def predict(self, pairs: Sequence[tuple[str, str]]) -> list[EntityVerdict]:
        probs = self.probabilities(pairs)
        verdicts = []
        for row in probs:
            best = int(row.argmax())
            verdicts.append(
                EntityVerdict(
                    sentiment=self.sentiments[best],
                    confidence=round(float(row[best]), 6),
                    negative_probability=round(float(row[self._negative]), 6),
                    model_version=self.version,
                )
            )
        return verdicts
