"""Entity settings: the ``entities`` section of :class:`tapewatch.settings.Settings`.

Environment: ``TAPEWATCH_ENTITIES__<FIELD>``, e.g.
``TAPEWATCH_ENTITIES__WATCHLIST_PATH=entities/watchlists/example.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

REPO_ROOT = Path(__file__).resolve().parent.parent


class EntitiesConfig(BaseModel):
    watchlist_path: Path | None = Field(
        default=None,
        description="Watchlist of entities (YAML or CSV: id, name, tickers, aliases) matched in "
        "every headline; unset: no entity matching. Example: entities/watchlists/example.yaml.",
    )
    model_dir: Path = Field(
        default=REPO_ROOT / "models" / "tapewatch-entity-minilm",
        description="Target-aware entity sentiment model for headlines naming several entities; "
        "missing: each entity gets its headline's sentiment.",
    )
    max_length: int = Field(
        default=64, ge=8, le=512, description="Token limit of an (entity, headline) pair."
    )
    # Where the CPU multiplies bf16 natively the entity pass costs about half of fp32's
    # (docs/entities.md, Throughput), and the shipped model's verdicts equal fp32's on 2,487
    # of its 2,489 validation pairs.
    bf16: bool | None = Field(
        default=None,
        description="bf16 autocast of the entity model; unset: on where the CPU (AMX, AVX-512 "
        "BF16) or GPU multiplies bf16 natively.",
    )
    # A CPU without native bf16 pays fp32 for every pair: int8 weights there instead.
    int8: bool | None = Field(
        default=None,
        description="int8 dynamic quantisation of the entity model on a CPU; unset: on where "
        "the model runs on a CPU without native bf16 (and bf16 is not asked for).",
    )
