"""Load a model directory into the inference engine with the settings' engine options (device,
length, batch size, precision, CPU workers): the same engine the live stage runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tapewatch.settings import Settings

if TYPE_CHECKING:
    from classify.predictor import Predictor


def load_predictor(settings: Settings, model_dir: Path | None = None) -> Predictor:
    from classify.predictor import Predictor

    device = settings.device
    if settings.classify.gpu_index is not None:
        device = f"cuda:{settings.classify.gpu_index}"
    return Predictor.from_dir(
        model_dir or settings.model_dir,
        device=device,
        max_length=settings.max_length,
        batch_size=settings.inference_batch_size,
        quantize_int8=settings.quantize_int8,
        workers=settings.cpu_workers,
    )
