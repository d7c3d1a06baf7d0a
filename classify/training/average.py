"""Weight averaging ("model soup"): one model whose weights are the mean of several runs
fine-tuned from the same starting model on the same data.

Runs fine-tuned from one model stay in one basin of the loss, so their mean is itself a good
model and can keep what each run gained (one run's news sentiment, another's topics) at the
cost of one run at serving time. Each member was temperature-scaled on its own; the mean of two
scaled heads is not the scaled mean, so the temperatures are fitted again on the members'
common holdout. The result records its members (directory, version, command), and its card
says it is an average.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from classify.model import load_model
from classify.predictor import Predictor
from classify.training.calibration import calibrate
from classify.training.posthoc import PostHocError, read_record, recorded_split, write_derived

# What must agree between members for their mean to be one model of one recipe's data.
_SAME = ("base_model", "init_from", "data")
_SAME_PARAMS = ("sources", "holdout_fraction", "holdout_seed", "max_length")


def average_model_dirs(
    members: list[Path], output: Path, data_dir: Path, command: str = "tapewatch average"
) -> str:
    """Write the weight average of ``members`` to ``output``, re-calibrated; return its version."""
    if len(members) < 2:
        raise PostHocError("name two or more model directories to average")
    records = [read_record(m, output) for m in members]
    _check_compatible(members, records)

    loaded = [load_model(m) for m in members]
    model, tokenizer, _ = loaded[0]
    states = [member.state_dict() for member, _, _ in loaded]
    if any(set(s) != set(states[0]) for s in states[1:]):
        raise PostHocError("the members hold different tensors: only one architecture averages")
    # fp32 sums of the fp16 files: the mean is rounded once, when it is saved.
    model.load_state_dict({k: sum(s[k] for s in states) / len(states) for k in states[0]})

    record = _merged_record(members, [v for _, _, v in loaded], records, command)
    _, held_ex = recorded_split(members[0], records[0], data_dir)
    record["calibration"] = calibrate(model, Predictor(model, tokenizer, "average"), held_ex)
    return write_derived(model, tokenizer, output, record, held_ex)


def _check_compatible(members: list[Path], records: list[dict[str, Any]]) -> None:
    first, name = records[0], members[0]
    for path, record in zip(members[1:], records[1:], strict=True):
        for key in _SAME:
            if record.get(key) != first.get(key):
                raise PostHocError(
                    f"{path} and {name} differ in {key}: only runs fine-tuned from one model on "
                    "the same data can be averaged"
                )
        for key in _SAME_PARAMS:
            if record["hyperparameters"].get(key) != first["hyperparameters"].get(key):
                raise PostHocError(f"{path} and {name} differ in hyper-parameter {key}")


def _merged_record(
    members: list[Path], versions: list[str], records: list[dict[str, Any]], command: str
) -> dict[str, Any]:
    """The first member's record, with what describes all members merged: the teachers of
    any, training time and steps of all together, and the members themselves."""
    record = copy.deepcopy(records[0])
    teachers: list[dict[str, Any]] = []
    for r in records:
        teachers += [t for t in r.get("teachers", []) if t not in teachers]
    record["teachers"] = teachers
    record["train_seconds"] = sum(r["train_seconds"] for r in records)
    record["steps"] = sum(r["steps"] for r in records)
    record["command"] = command
    record["averaged_from"] = [
        {"directory": str(m), "model_version": v, "command": r["command"]}
        for m, v, r in zip(members, versions, records, strict=True)
    ]
    return record
