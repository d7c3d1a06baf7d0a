"""The obvious way to run a Tapewatch model: transformers ``pipeline("feature-extraction")``
called once per headline, then mean pooling and the model's two heads.

The benchmarks' naive baseline: the same weights and the same answers (to float rounding) as the
engine, without its batching, sorting or threading.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from classify.predictor import Predictor
from classify.sanitize import model_text


class NaivePipeline:
    def __init__(self, model_dir: Path, device: str = "cpu", threads: int | None = None) -> None:
        from transformers import pipeline

        # One worker: every core inside each call's kernels, as pipeline() is used normally.
        engine = Predictor.from_dir(model_dir, device=device, workers=1, threads=threads)
        self.version = engine.version
        self.topics, self.sentiments = engine.topics, engine.sentiments
        self._device = engine.device
        self._model = engine.model
        self._extract = pipeline(
            "feature-extraction",
            model=engine.model.encoder,
            tokenizer=engine.tokenizer,
            device=engine.device,
            truncation=True,
            max_length=engine.max_length,
        )

    def classify(self, text: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Topic and sentiment probabilities of one headline."""
        hidden = torch.tensor(self._extract(model_text(text))[0])  # (tokens, hidden)
        pooled = hidden.mean(dim=0, keepdim=True).to(self._device)
        with torch.inference_mode():
            topic = torch.softmax(self._model.topic_head(pooled), -1)[0]
            sentiment = torch.softmax(self._model.sentiment_head(pooled), -1)[0]
        return topic.cpu().numpy(), sentiment.cpu().numpy()

    def probabilities(self, texts: list[str]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Both heads for each text, one pipeline() call per text, in input order."""
        pairs = [self.classify(t) for t in texts]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
