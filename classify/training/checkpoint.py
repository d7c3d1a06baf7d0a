"""Resumable training: the whole run state at a step boundary, written atomically.

Fine-tuning a base-size encoder on a small CPU takes hours; a crash, a reboot or Ctrl-C must
cost no more than the steps since the last checkpoint. A checkpoint holds everything the next
step depends on (weights, optimiser and schedule, the weight average, the dropout and batch-order
random states, where in the epoch's batch order the run stood, the best epoch so far and the
teachers' soft targets), so a resumed run ends with the same model as one never interrupted.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)
# Inside the output directory, apart from the model files, and removed when the run completes.
CHECKPOINT_DIR = "resume"
CHECKPOINT_FILE = "checkpoint.pt"

# Settings that may change between the interrupted run and its resumption: where things run,
# not what is trained (calibration happens after the last step).
FREE_TO_CHANGE = frozenset({"device", "threads", "checkpoint_every", "calibrate"})


class ResumeError(Exception):
    """A run that cannot start or resume as asked; the message says what to do instead."""


class TrainingInterrupted(Exception):
    """The run was asked to stop; a checkpoint at ``step`` was written first."""

    def __init__(self, step: int, total: int, path: Path) -> None:
        super().__init__(f"training interrupted at step {step}/{total}; checkpoint at {path}")
        self.step, self.total, self.path = step, total, path


def checkpoint_path(output_dir: Path) -> Path:
    return output_dir / CHECKPOINT_DIR / CHECKPOINT_FILE


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write to a temporary file, flush it to disk, then rename: a crash mid-write leaves the
    previous checkpoint intact, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    # The rename itself survives a power cut only once the directory entry is on disk.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ResumeError(
            f"no checkpoint at {path}: nothing to resume. Start the run without --resume."
        )
    # Plain containers, numbers and tensors only, so the safe loader suffices.
    return torch.load(path, map_location="cpu", weights_only=True)


def remove_checkpoint(output_dir: Path) -> None:
    try:
        shutil.rmtree(output_dir / CHECKPOINT_DIR)
    except FileNotFoundError:
        pass
    except OSError as exc:
        # The model is saved; only a later run into this directory would trip over it.
        log.warning("could not delete %s (%s): delete it by hand", exc.filename, exc.strerror)


def run_identity(hyperparameters: dict[str, Any], data_sha256: dict[str, str]) -> dict[str, Any]:
    """What must not change between an interrupted run and its resumption."""
    kept = {k: v for k, v in hyperparameters.items() if k not in FREE_TO_CHANGE}
    return {"hyperparameters": kept, "data_sha256": dict(data_sha256)}


def check_resumable(saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to resume a run under different settings or data: the result would be neither run."""
    differences = []
    for section in ("hyperparameters", "data_sha256"):
        before, now = saved[section], current[section]
        for key in sorted(set(before) | set(now)):
            if before.get(key) != now.get(key):
                differences.append(f"{key}: checkpoint {before.get(key)!r}, now {now.get(key)!r}")
    if differences:
        raise ResumeError(
            "the checkpoint was made by a run with other settings or data ("
            + "; ".join(differences)
            + "). Resume with the original options, or delete the checkpoint to start over."
        )
