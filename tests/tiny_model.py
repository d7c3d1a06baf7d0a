"""A tiny, randomly initialised BERT saved as a Hugging Face directory, and a toy data set:
fast stand-ins for the real encoder and data in unit tests."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from classify.training.config import TrainConfig

WORDS = (
    "fed rates hike cut bank central inflation oil crude energy opec barrel profit loss warning "
    "dividend raises quarterly shares plunge soar earnings beat miss acme apple company ipo merger "
    "deal buy sell market stocks bond yields gold the a of to by in on for and is up down"
).split()

TOY_TOPIC = {  # text template -> topic id
    "fed hike rates central bank": 1,
    "oil crude energy opec barrel": 6,
    "dividend raises quarterly dividend": 4,
}
# Values are the sentiment data set's ids: 0 Bearish, 1 Bullish, 2 Neutral.
TOY_SENTIMENT = {"shares plunge loss warning": 0, "shares soar profit beat": 1, "the market is": 2}
# Headline-style rows for the news source (same ids).
TOY_NEWS = {"stocks down on loss": 0, "stocks up on profit": 1, "bond market in the": 2}


def build_tiny_base(directory: Path, *, seed: int = 0, hidden: int = 32) -> Path:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)  # the same random encoder every run: tests stay reproducible
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(tokens)}, do_lower_case=True)
    config = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_toy_data(directory: Path, copies: int = 12) -> Path:
    """CSV files laid out like the real data directory, with an easy, learnable signal."""
    for folder, mapping, dataset_ids in (
        ("twitter-financial-news-topic", TOY_TOPIC, None),
        ("twitter-financial-news-sentiment", TOY_SENTIMENT, {0: 0, 1: 1, 2: 2}),
        ("sentfin-headlines", TOY_NEWS, {0: 0, 1: 1, 2: 2}),
    ):
        (directory / folder).mkdir(parents=True, exist_ok=True)
        for split in ("train", "valid"):
            with (directory / folder / f"{split}.csv").open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["text", "label"])
                for i in range(copies):
                    for text, label in mapping.items():
                        extra = "acme" if i % 2 else "apple"
                        writer.writerow(
                            [f"{text} {extra}", dataset_ids[label] if dataset_ids else label]
                        )
    return directory


def toy_config(base: Path, data: Path, out: Path, **overrides: object) -> TrainConfig:
    """Training settings that learn the toy task in seconds on one thread."""
    from classify.training.config import TrainConfig

    toy: dict[str, object] = {
        "epochs": 12,
        "learning_rate": 3e-3,
        "batch_size": 8,
        "max_length": 16,
        "warmup_ratio": 0.1,
        "holdout_fraction": 0.25,
        "patience": 12,
        "device": "cpu",
        "threads": 1,
    }
    # Through the constructor, so a misspelt override is a TypeError, not a silent no-op.
    settings: dict[str, Any] = toy | overrides
    return TrainConfig(data_dir=data, output_dir=out, base_model=str(base), **settings)
