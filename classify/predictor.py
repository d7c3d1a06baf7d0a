"""The inference engine: batched, length-bucketed, dynamically padded, deterministic.

``Predictor.predict_batch(texts)`` returns one result per input, in input order: a
:class:`Prediction`, or a :class:`PredictionError` for an item that cannot be classified (the
rest of the batch is unaffected). Every result carries the model version (a content hash).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from classify.batching import pad, sorted_batches
from classify.model import HeadlineClassifier, load_model
from classify.results import Prediction, PredictionError
from classify.sanitize import clean, model_text

log = logging.getLogger(__name__)
M = TypeVar("M", bound=torch.nn.Module)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {name!r} requested but CUDA is not available; use 'cpu' or 'auto'"
        )
    return device


def configure_cpu_threads(threads: int | None = None) -> int:
    """Intra-op threads (default: one per core); torch's inter-op pool only adds contention."""
    n = threads or cpu_cores()
    torch.set_num_threads(n)
    # Raises once set in this process (or after parallel work started); harmless then.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    return n


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0))


class Predictor:
    """Batched inference for one model directory.

    On CPU, ``workers`` buckets run at once, each on its own Python thread (torch releases the
    GIL inside its kernels), and a call's rows are split so that every worker gets a bucket.
    Why: a headline bucket's matrices are small, and one single-threaded GEMM per core beats
    two threads synchronising inside every GEMM (docs/benchmarks.md). The buckets and their
    order do not depend on timing, so the same input gives the same output.
    """

    def __init__(
        self,
        model: HeadlineClassifier,
        tokenizer: PreTrainedTokenizerBase,
        version: str,
        *,
        device: torch.device | None = None,
        max_length: int | None = None,
        batch_size: int = 64,
        workers: int = 1,
        bf16: bool = False,
    ) -> None:
        self.device = device or torch.device("cpu")
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.version = version
        self.max_length = max_length or model.config.max_length
        self.batch_size = batch_size
        # One CUDA stream does the batching better than threads would.
        self.workers = max(1, workers) if self.device.type == "cpu" else 1
        self._pool = (
            ThreadPoolExecutor(self.workers, thread_name_prefix="tapewatch-infer")
            if self.workers > 1
            else None
        )
        self.topics = list(model.config.topics)
        self.sentiments = list(model.config.sentiments)
        # bf16 on GPUs: Tensor-core speed, and BERT-size models lose nothing measurable. On CPUs
        # only when asked (teacher scoring): its outputs differ from fp32 in the last digits.
        self._autocast = self.device.type == "cuda" or bf16

    @classmethod
    def from_dir(
        cls,
        directory: Path,
        *,
        device: str = "auto",
        max_length: int | None = None,
        batch_size: int = 64,
        quantize_int8: bool = False,
        compile: bool = False,
        threads: int | None = None,
        workers: int | None = None,
        bf16: bool = False,
    ) -> Predictor:
        """``threads``: CPU cores to use (default: all); ``workers``: buckets in flight at once
        (default: one per core), each on ``threads // workers`` intra-op threads; ``bf16``:
        bf16 autocast on a CPU too (CUDA always runs under it)."""
        torch_device = pick_device(device)
        if torch_device.type == "cpu":
            cores = threads or cpu_cores()
            workers = min(workers or cores, cores)
            configure_cpu_threads(max(1, cores // workers))
        else:
            workers = 1
        model, tokenizer, version = load_model(directory)
        if quantize_int8:
            if torch_device.type != "cpu":
                raise ValueError("int8 dynamic quantisation is a CPU option; drop it on CUDA")
            if bf16:
                raise ValueError("int8 and bf16 are two different precisions; choose one")
            model = quantize_linear_int8(model)
            version = f"{version}-int8"
        if compile:
            model.encoder = torch.compile(model.encoder, dynamic=True)
        log.info("loaded model %s on %s", version, torch_device)
        return cls(
            model,
            tokenizer,
            version,
            device=torch_device,
            max_length=max_length,
            batch_size=batch_size,
            workers=workers,
            bf16=bf16,
        )

    def probabilities(
        self, texts: Sequence[str]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Softmax probabilities of both heads, (N, topics) and (N, sentiments), in input order."""
        n = len(texts)
        topic = np.zeros((n, len(self.topics)), dtype=np.float32)
        sentiment = np.zeros((n, len(self.sentiments)), dtype=np.float32)

        def keep(batch: list[int], input_ids: Tensor, mask: Tensor) -> None:
            t_logits, s_logits = self.model(input_ids, mask)
            # Buckets hold disjoint rows, so the threads never write the same row.
            topic[batch] = torch.softmax(t_logits.float(), dim=-1).cpu().numpy()
            sentiment[batch] = torch.softmax(s_logits.float(), dim=-1).cpu().numpy()

        self._each_bucket(texts, keep)
        return topic, sentiment

    def pooled(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """The pooled sentence vector both heads read, (N, hidden), in input order (what a
        student learns to predict in representation distillation)."""
        out = np.zeros((len(texts), self.model.topic_head.in_features), dtype=np.float32)

        def keep(batch: list[int], input_ids: Tensor, mask: Tensor) -> None:
            out[batch] = self.model.pool(input_ids, mask).float().cpu().numpy()

        self._each_bucket(texts, keep)
        return out

    def _each_bucket(
        self, texts: Sequence[str], use: Callable[[list[int], Tensor, Tensor], None]
    ) -> None:
        """Tokenise ``texts`` and call ``use(rows, input_ids, mask)`` once per length bucket,
        under inference mode and the engine's autocast, on the workers."""
        if not texts:
            return
        ids = self.tokenizer(
            [model_text(t) for t in texts], truncation=True, max_length=self.max_length
        )["input_ids"]
        pad_id = self.tokenizer.pad_token_id or 0
        # Small calls (a stream's micro-batch) are still split so that every worker gets rows.
        bucket = min(self.batch_size, math.ceil(len(texts) / self.workers))

        def run(batch: list[int]) -> None:
            # inference_mode and autocast are thread-local: entered in the thread that runs.
            with torch.inference_mode():
                input_ids, mask = pad([ids[i] for i in batch], pad_id)
                input_ids = input_ids.to(self.device, non_blocking=True)
                mask = mask.to(self.device, non_blocking=True)
                autocast = torch.autocast(
                    self.device.type, dtype=torch.bfloat16, enabled=self._autocast
                )
                with autocast:
                    use(batch, input_ids, mask)

        batches = list(sorted_batches([len(x) for x in ids], bucket))
        if self._pool is not None and len(batches) > 1:
            list(self._pool.map(run, batches))  # list(): re-raises a worker's exception here
        else:
            for batch in batches:
                run(batch)

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction | PredictionError]:
        cleaned = [clean(t) for t in texts]
        ok = [i for i, c in enumerate(cleaned) if c.text is not None]
        t_probs, s_probs = self.probabilities([cleaned[i].text or "" for i in ok])
        results: list[Prediction | PredictionError] = [
            PredictionError(text=t, error=c.error or "unclassifiable", model_version=self.version)
            for t, c in zip(texts, cleaned, strict=True)
        ]
        for row, i in enumerate(ok):
            results[i] = self._prediction(texts[i], t_probs[row], s_probs[row], cleaned[i].warnings)
        return results

    def _prediction(
        self, text: str, t: NDArray[np.float32], s: NDArray[np.float32], warnings: tuple[str, ...]
    ) -> Prediction:
        ti, si = int(t.argmax()), int(s.argmax())
        return Prediction(
            text=text,
            topic=self.topics[ti],
            topic_confidence=round(float(t[ti]), 6),
            sentiment=self.sentiments[si],
            sentiment_confidence=round(float(s[si]), 6),
            probabilities={
                "topic": {
                    label: round(float(p), 6) for label, p in zip(self.topics, t, strict=True)
                },
                "sentiment": {
                    label: round(float(p), 6) for label, p in zip(self.sentiments, s, strict=True)
                },
            },
            model_version=self.version,
            warnings=warnings,
        )


def quantize_linear_int8(model: M) -> M:
    """``model`` with its Linear layers int8-quantised for CPU inference (weights per output
    row, activations dynamically)."""
    import warnings

    with warnings.catch_warnings():
        # Deprecated in favour of torchao, which is not a dependency here; still works.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        # One scale per output row, not per matrix: distilled models, whose rows differ more in
        # range, lost up to 1.7 points of macro-F1 with one scale per matrix, at most 0.9 this
        # way, at the same speed (docs/benchmarks.md).
        spec = {torch.nn.Linear: per_channel_dynamic_qconfig}
        return quantize_dynamic(model, spec, dtype=torch.qint8)
