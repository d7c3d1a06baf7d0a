"""training.json: what produced a model (the command that reproduces it, the data hashes, the
hyper-parameters, teachers, calibration and holdout scores)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from classify.training.config import TrainConfig, TrainResult
from classify.training.data import data_files, sha256
from classify.training.selection import holdout_summary
from classify.training.sources import DEFAULT_SOURCES


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def reproducing_command(args: Sequence[str]) -> str:
    """``tapewatch`` with these arguments, shell-quoted, without --resume: what reproduces the
    run from scratch (the training record), and with ``--resume`` added what continues it."""
    kept = (a for a in args if a not in ("--resume", "--no-resume"))
    return shlex.join(["tapewatch", *kept])


def hyperparameters(cfg: TrainConfig) -> dict[str, Any]:
    # Where, and how it was started: not what.
    skip = {"data_dir", "output_dir", "resume", "teacher_cache"}
    params = {k: _plain(v) for k, v in asdict(cfg).items() if k not in skip}
    # Unset, these leave a run as it was before they existed: its checkpoint keeps resuming.
    if cfg.distill_sources is None:
        params.pop("distill_sources")
    if not cfg.topic_teachers:
        params.pop("topic_teachers")
    if not cfg.feature_weight:
        params.pop("feature_weight")
    if not cfg.adversarial_epsilon:
        params.pop("adversarial_epsilon")
    if not cfg.splice:
        params.pop("splice")
    if cfg.sources == DEFAULT_SOURCES:
        params["sources"] = "default"  # the declarations live in code; the hashes pin the data
    return params


def train_sha256(cfg: TrainConfig) -> dict[str, str]:
    return {name: sha256(p) for name, p in data_files(cfg.data_dir, "train", cfg.sources).items()}


def write_training_record(cfg: TrainConfig, result: TrainResult, command: str) -> None:
    """training.json: what produced this model (command, data hashes, hyper-parameters)."""
    files = data_files(cfg.data_dir, "train", cfg.sources)
    heads = {s.name: s for s in cfg.sources}
    record = {
        "command": command,
        "base_model": cfg.base_model,
        "data": {
            name: {
                "file": f"{p.parent.name}/{p.name}",
                "sha256": sha256(p),
                "head": heads[name].head,
                "weight": heads[name].weight,
                "own_prior": heads[name].own_prior,
                "own_head": heads[name].own_head,
                **({"style": heads[name].style} if heads[name].style != "as-written" else {}),
            }
            for name, p in files.items()
        },
        "source_priors": result.source_priors,
        "hyperparameters": hyperparameters(cfg),
        "init_from": (
            {"directory": str(cfg.init_from), "model_version": result.init_version}
            if cfg.init_from is not None
            else None
        ),
        "teachers": [
            {"directory": str(t), "model_version": v}
            | ({"heads": ["topic"]} if i >= len(cfg.teachers) else {})
            for i, (t, v) in enumerate(
                zip(cfg.teachers + cfg.topic_teachers, result.teacher_versions, strict=True)
            )
        ],
        "model_version": result.model_version,
        "best_epoch": result.best_epoch,
        "steps": result.steps,
        "train_seconds": round(result.seconds, 1),
        "resumed_at_steps": result.resumed_at,
        "calibration": result.calibration,
        "holdout": holdout_summary(result.holdout),
        "torch": torch.__version__,
    }
    (cfg.output_dir / "training.json").write_text(json.dumps(record, indent=2) + "\n")
