"""The target-aware entity sentiment model: one BERT-family encoder over the text pair
``entity [SEP] headline``, mean pooling, one linear head (negative / neutral / positive towards
that entity).

The pair is the whole trick: the same headline read with a different first segment gives a
different verdict ("Tata Steel gains as JSW slips" is positive for Tata Steel, negative for
JSW). The encoder and head start from the headline model's (``init_from``), so training starts
at the headline's sentiment and learns where the entity changes it. Saved like the headline
model: fp16 safetensors, the tokenizer, the encoder's config and a JSON
:class:`EntityModelConfig`; :func:`load_entity_model` needs no network.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from classify.labels import SENTIMENTS
from classify.model import (
    ENCODER_DIR,
    ModelLoadError,
    restore_weights,
    saved_encoder,
)

WEIGHTS = "model.safetensors"
CONFIG = "entity_config.json"


@dataclass
class EntityModelConfig:
    """Saved with the weights: what the model is and how it reads its input."""

    init_from: str  # the headline model (name and version) whose encoder and head it started from
    sentiments: list[str] = field(default_factory=lambda: list(SENTIMENTS))
    max_length: int = 64  # tokens of the pair; the headline is truncated, never the entity
    head_dropout: float = 0.1  # dropout on the pooled vector, training only
    # Wrap the entity's first mention in the headline in brackets, so the model sees which
    # words the first segment points at ("Tata Steel gains as [ JSW ] slips").
    mark_entity: bool = False

    def save(self, directory: Path) -> None:
        (directory / CONFIG).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> EntityModelConfig:
        path = directory / CONFIG
        if not path.exists():
            raise ModelLoadError(f"{path} not found: {directory} is not an entity model directory")
        return cls(**json.loads(path.read_text()))


class EntitySentimentModel(nn.Module):
    def __init__(self, encoder: nn.Module, config: EntityModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        hidden = int(encoder.config.hidden_size)
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(hidden, len(config.sentiments))

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor) -> Tensor:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state  # (B, T, H)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)  # (B, H)
        return self.head(self.dropout(pooled))  # (B, 3)


def from_headline_model(
    headline_dir: Path, *, max_length: int, mark_entity: bool = False
) -> tuple[EntitySentimentModel, Any]:
    """A new entity model holding a copy of the headline model's encoder and sentiment head."""
    from classify.model import load_model

    headline, tokenizer, version = load_model(headline_dir)
    # Name and version, not the path: the path is this machine's, the version is the model's.
    config = EntityModelConfig(
        init_from=f"{headline_dir.name} {version}", max_length=max_length, mark_entity=mark_entity
    )
    model = EntitySentimentModel(headline.encoder, config)
    if list(headline.config.sentiments) != config.sentiments:
        raise ModelLoadError(f"{headline_dir}: sentiment labels differ from {config.sentiments}")
    model.head.load_state_dict(headline.sentiment_head.state_dict())
    return model, tokenizer


def save_entity_model(model: EntitySentimentModel, tokenizer: Any, directory: Path) -> str:
    """Write weights (fp16), tokenizer and configs; return the model version."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
    }
    tmp = directory / (WEIGHTS + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, directory / WEIGHTS)  # a kill mid-write leaves the old weights
    model.config.save(directory)
    model.encoder.config.save_pretrained(directory / ENCODER_DIR)
    tokenizer.save_pretrained(directory)
    return entity_model_version(directory)


def entity_model_version(directory: Path) -> str:
    """A content hash of weights and config, prefixed so it never equals a headline version."""
    digest = hashlib.sha256()
    for name in (WEIGHTS, CONFIG):
        if not (directory / name).exists():
            raise ModelLoadError(f"{directory / name} not found")
        digest.update((directory / name).read_bytes())
    return "ent-" + digest.hexdigest()[:16]


def load_entity_model(
    directory: Path, *, dtype: torch.dtype = torch.float32
) -> tuple[EntitySentimentModel, Any, str]:
    """Rebuild a saved entity model (eval mode) with its tokenizer and version."""
    from transformers import AutoTokenizer

    config = EntityModelConfig.load(directory)
    model = EntitySentimentModel(saved_encoder(directory), config)
    restore_weights(model, directory, dtype)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    return model, tokenizer, entity_model_version(directory)
