"""Per-source label priors, learnt during training and left out of the saved model.

Each source with ``own_prior`` gets a learnable offset added to its head's logits on its own
rows. The offset soaks up what is peculiar to that source's class frequencies (the tweets'
65% "neutral"), so the shared heads keep the prior of the sources without one (news). The
saved model never sees the offsets: at inference every headline is read as news.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from classify.labels import SENTIMENTS, TOPICS
from classify.training.sources import Source


class SourcePriors(nn.Module):
    def __init__(self, sources: tuple[Source, ...]) -> None:
        super().__init__()
        self.names = [s.name for s in sources]
        # Row i of each table belongs to source i; a source without its own prior keeps zeros
        # (the mask stops its row from ever moving).
        self.topic = nn.Parameter(torch.zeros(len(sources), len(TOPICS)))
        self.sentiment = nn.Parameter(torch.zeros(len(sources), len(SENTIMENTS)))
        mask = torch.tensor([[1.0] if s.own_prior else [0.0] for s in sources])
        self.register_buffer("mask", mask)

    @property
    def active(self) -> bool:
        return bool(self.mask.any())

    def forward(
        self, topic_logits: Tensor, sentiment_logits: Tensor, source_ids: Tensor
    ) -> tuple[Tensor, Tensor]:
        m = self.mask[source_ids]
        return (
            topic_logits + m * self.topic[source_ids],
            sentiment_logits + m * self.sentiment[source_ids],
        )

    def learnt(self) -> dict[str, dict[str, dict[str, float]]]:
        """The offsets of the sources that have them, by class (for the training record)."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for i, name in enumerate(self.names):
            if not bool(self.mask[i]):
                continue
            out[name] = {
                "topic": dict(zip(TOPICS, self.topic[i].tolist(), strict=True)),
                "sentiment": dict(zip(SENTIMENTS, self.sentiment[i].tolist(), strict=True)),
            }
        return out
