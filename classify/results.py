"""What the inference engine returns per headline, free of torch: the classify stage imports
these to sort results without paying for the engine's imports (most of a worker's cold start;
``classify/agent.py`` loads the engine on a thread while the worker joins its group)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Prediction:
    text: str
    topic: str
    topic_confidence: float
    sentiment: str
    sentiment_confidence: float
    probabilities: dict[str, dict[str, float]]
    model_version: str
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        doc = {
            "text": self.text,
            "topic": self.topic,
            "topic_confidence": self.topic_confidence,
            "sentiment": self.sentiment,
            "sentiment_confidence": self.sentiment_confidence,
            "probabilities": self.probabilities,
            "model_version": self.model_version,
        }
        if self.warnings:
            doc["warnings"] = list(self.warnings)
        return doc


@dataclass(frozen=True, slots=True)
class PredictionError:
    text: str
    error: str
    model_version: str

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "error": self.error, "model_version": self.model_version}
