"""Temperature scaling: confidences that mean what they say.

A fine-tuned encoder comes out over-confident: before this, the shipped model's mean sentiment
confidence on validation was well above its accuracy (expected calibration error 0.05). One
temperature per head, fitted on the train-carved holdout by minimising the negative
log-likelihood, divides that head's logits. Dividing by a positive number cannot change the
argmax, so accuracy and macro-F1 stay exactly as they were.

The temperature is folded into the head itself (``logits / T = (W / T) x + b / T``): the saved
model needs no extra setting, and every engine path (fp16, int8, CUDA) applies it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from classify.labels import IGNORE
from classify.model import HeadlineClassifier
from classify.predictor import Predictor
from classify.training.data import Example
from classify.training.distill import soften
from classify.training.metrics import expected_calibration_error

log = logging.getLogger(__name__)


def _log_probs(probabilities: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    return np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0))


def _nll(logp: NDArray[np.float64], labels: NDArray[np.int64], beta: float) -> float:
    z = logp * beta
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float((log_norm - z[np.arange(len(labels)), labels]).mean())


BETA_RANGE = (0.05, 20.0)  # 1 / T: from 20x flatter to 20x sharper


def fit_temperature(
    probabilities: NDArray[np.floating[Any]], labels: NDArray[np.int64]
) -> float | None:
    """The temperature T minimising the NLL of ``softmax(log p / T)`` on these labels, or None
    when there is no optimum inside the search range.

    Works from probabilities: ``log p`` differs from the logits by a per-row constant, which
    the softmax ignores (probabilities under 1e-12 are clipped there, which only touches
    mistakes made with near certainty). The NLL is convex in ``1 / T``, so a golden-section
    search over ``1 / T`` finds the minimum; no optimiser state, same answer every time. An
    answer at the edge of the range means the data do not pin T down (every holdout row right,
    so sharpening always helps, or flat probabilities): None, rather than an artefact of the
    range.
    """
    if len(labels) == 0:
        return None
    logp = _log_probs(probabilities)
    lo, hi = BETA_RANGE
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = _nll(logp, labels, a), _nll(logp, labels, b)
    for _ in range(80):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = _nll(logp, labels, a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = _nll(logp, labels, b)
    beta = (lo + hi) / 2
    if not BETA_RANGE[0] * 1.01 < beta < BETA_RANGE[1] * 0.99:
        return None
    return 1.0 / beta


def scale_heads(model: HeadlineClassifier, temperatures: dict[str, float]) -> None:
    """Divide each head's weight and bias by its temperature, in place."""
    with torch.no_grad():
        for head, module in (("topic", model.topic_head), ("sentiment", model.sentiment_head)):
            module.weight /= temperatures[head]
            module.bias /= temperatures[head]


def calibrate(
    model: HeadlineClassifier, predictor: Predictor, examples: list[Example]
) -> dict[str, dict[str, float]]:
    """Fit both heads' temperatures on ``examples`` (``predictor`` wraps ``model``), fold them
    into the heads and return each temperature with the examples' ECE before and after."""
    texts = [ex.text for ex in examples]
    t_probs, s_probs = predictor.probabilities(texts)
    result: dict[str, dict[str, float]] = {}
    for head, probs in (("topic", t_probs), ("sentiment", s_probs)):
        rows = np.array([getattr(ex, head) != IGNORE for ex in examples], dtype=bool)
        labels = np.array([getattr(ex, head) for ex in examples], dtype=np.int64)[rows]
        p = probs[rows].astype(np.float64)
        if not len(labels):
            # A head no source labels (a news-only teacher's topic head): nothing to fit or
            # score, and left as it is.
            log.info("%s head: no holdout rows; left uncalibrated (T = 1)", head)
            result[head] = {"temperature": 1.0}
            continue
        fitted = fit_temperature(p, labels)
        if fitted is None:
            log.warning(
                "%s head: no temperature fits its %d holdout rows; left uncalibrated (T = 1)",
                head,
                len(labels),
            )
        temperature = fitted or 1.0
        scaled = soften(p, temperature).numpy()
        correct = p.argmax(axis=1) == labels
        logp = _log_probs(p)
        result[head] = {
            "temperature": round(temperature, 6),
            # The NLL is what the fit minimises; ECE is what users read (noisy on few rows).
            "holdout_nll_before": _nll(logp, labels, 1.0),
            "holdout_nll_after": _nll(logp, labels, 1.0 / temperature),
            "holdout_ece_before": expected_calibration_error(p.max(axis=1), correct),
            "holdout_ece_after": expected_calibration_error(scaled.max(axis=1), correct),
        }
    scale_heads(model, {head: r["temperature"] for head, r in result.items()})
    return result
