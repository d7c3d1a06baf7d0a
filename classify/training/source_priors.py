"""Per-source label priors and heads, learnt during training and left out of the saved model.

Each source with ``own_prior`` gets a learnable offset added to its head's logits on its own
rows. The offset soaks up what is peculiar to that source's class frequencies (the tweets'
65% "neutral"), so the shared heads keep the prior of the sources without one (news). The
saved model never sees the offsets: at inference every headline is read as news.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from classify.labels import SENTIMENTS, TOPICS
from classify.training.sources import HEAD_LABELS, Source


class SourcePriors(nn.Module):
    def __init__(self, sources: tuple[Source, ...], hidden: int = 0) -> None:
        super().__init__()
        self.names = [s.name for s in sources]
        # Training-only heads of the sources with ``own_head`` (by source index), fitted to the
        # shared heads' weights by :meth:`start_from` before the first step.
        self.heads = nn.ModuleDict(
            {
                str(i): nn.Linear(hidden, len(HEAD_LABELS[s.head]))
                for i, s in enumerate(sources)
                if s.own_head
            }
        )
        self.head_of = {str(i): s.head for i, s in enumerate(sources)}
        # Row i of each table belongs to source i; a source without its own prior keeps zeros
        # (the mask stops its row from ever moving).
        self.topic = nn.Parameter(torch.zeros(len(sources), len(TOPICS)))
        self.sentiment = nn.Parameter(torch.zeros(len(sources), len(SENTIMENTS)))
        mask = torch.tensor([[1.0] if s.own_prior else [0.0] for s in sources])
        self.register_buffer("mask", mask)

    @property
    def active(self) -> bool:
        return bool(self.mask.any()) or len(self.heads) > 0

    def start_from(self, topic_head: nn.Linear, sentiment_head: nn.Linear) -> None:
        """Each own head begins as a copy of the shared head of its kind."""
        with torch.no_grad():
            for key, head in self.heads.items():
                shared = topic_head if self.head_of[key] == "topic" else sentiment_head
                head.weight.copy_(shared.weight)
                head.bias.copy_(shared.bias)

    def forward(
        self,
        topic_logits: Tensor,
        sentiment_logits: Tensor,
        source_ids: Tensor,
        pooled: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        m = self.mask[source_ids]
        topic_logits = topic_logits + m * self.topic[source_ids]
        sentiment_logits = sentiment_logits + m * self.sentiment[source_ids]
        if pooled is None or not self.heads:
            return topic_logits, sentiment_logits
        for key, head in self.heads.items():
            rows = source_ids == int(key)
            if not bool(rows.any()):
                continue
            # The source's rows read its own head; the shared head never sees their labels.
            own = head(pooled).float()
            if self.head_of[key] == "topic":
                topic_logits = torch.where(rows[:, None], own, topic_logits)
            else:
                sentiment_logits = torch.where(rows[:, None], own, sentiment_logits)
        return topic_logits, sentiment_logits

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
