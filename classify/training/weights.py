"""Class weights for the loss, and the prior correction that takes them back out of the heads.

Class-weighted cross-entropy makes rare classes count more, which helps the encoder and heads
learn them, but it also teaches the heads a shifted prior: the minimiser of the weighted loss
is ``p_w(y|x) ∝ w_y · p(y|x)``, i.e. every logit carries an extra ``log w_y``. Subtracting
``log w_y`` from each head's bias undoes exactly that shift (logit adjustment), so the saved
model's probabilities are estimates under the real class frequencies again and its argmax is
the most probable class, not a rare class favoured by the weights.
"""

from __future__ import annotations

import math
from collections import Counter

import torch
from torch import Tensor

from classify.labels import IGNORE, SENTIMENTS, TOPICS
from classify.model import HeadlineClassifier
from classify.training.data import Example


def class_weights(labels: list[int], n: int, scheme: str) -> Tensor | None:
    """Inverse square-root frequency, normalised to mean 1: rare topics count more, not wildly."""
    if scheme == "none":
        return None
    if scheme != "sqrt":
        raise ValueError(f"unknown class weighting {scheme!r}; use 'none' or 'sqrt'")
    counts = Counter(label for label in labels if label != IGNORE)
    raw = torch.tensor([1.0 / math.sqrt(max(counts.get(i, 0), 1)) for i in range(n)])
    return raw * n / raw.sum()


def head_weights(examples: list[Example], scheme: str) -> tuple[Tensor | None, Tensor | None]:
    """The topic and sentiment class weights for training on these examples."""
    return (
        class_weights([ex.topic for ex in examples], len(TOPICS), scheme),
        class_weights([ex.sentiment for ex in examples], len(SENTIMENTS), scheme),
    )


def correct_priors(
    model: HeadlineClassifier, topic_weight: Tensor | None, sentiment_weight: Tensor | None
) -> None:
    """Subtract ``log w`` from each head's bias, in place (a head without weights is left)."""
    with torch.no_grad():
        for head, weight in (
            (model.topic_head, topic_weight),
            (model.sentiment_head, sentiment_weight),
        ):
            if weight is not None:
                head.bias -= torch.log(weight).to(head.bias.device, head.bias.dtype)
