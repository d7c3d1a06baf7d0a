"""Weight averaging ("model soup"): one model whose weights are the mean of several runs
fine-tuned from the same starting model on the same data.

Runs fine-tuned from one model stay in one basin of the loss, so their mean is itself a good
model and can keep what each run gained (one run's news sentiment, another's topics) at the
cost of one run at serving time. Each member was temperature-scaled on its own; the mean of two
scaled heads is not the scaled mean, so the temperatures are fitted again on the members'
common holdout. The result records its members (directory, version, command), and its card
says it is an average.

``toward_start`` interpolates the mean back toward the model the runs were fine-tuned from
(weight-space ensembling of a fine-tuned model with its start, as in WiSE-FT): a run that gained
on news while losing a little of what its start read well keeps part of each. With it one run
is enough.
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
    members: list[Path],
    output: Path,
    data_dir: Path,
    command: str = "tapewatch average",
    toward_start: float = 0.0,
    start: Path | None = None,
) -> str:
    """Write the weight average of ``members`` to ``output``, re-calibrated; return its version.

    With ``toward_start`` = a, the weights are ``(1 - a) * mean + a * start``, where ``start``
    (default: the directory the runs' record names) must hold the model they started from."""
    if not 0.0 <= toward_start < 1.0:
        raise PostHocError(f"--toward-start is a fraction from 0 to under 1, not {toward_start}")
    if len(members) < 2 and not toward_start:
        raise PostHocError(
            "name two or more model directories to average, or pull one run toward the model "
            "it started from with --toward-start"
        )
    records = [read_record(m, output) for m in members]
    _check_compatible(members, records)

    loaded = [load_model(m) for m in members]
    model, tokenizer, _ = loaded[0]
    record = _merged_record(members, [v for _, _, v in loaded], records, command)
    states = [member.state_dict() for member, _, _ in loaded]
    start_state: dict[str, Any] = {}
    if toward_start:
        start_state, start_info = _start_state(records[0], start)
        record["toward_start"] = start_info | {"fraction": toward_start}
    # The start too: a run fine-tuned with --layers or --vocabulary-rows is not its start's shape.
    if any(_shapes(s) != _shapes(states[0]) for s in [*states[1:], start_state] if s):
        raise PostHocError("the models hold different tensors: only one architecture averages")
    # fp32 sums of the fp16 files: the mean is rounded once, when it is saved.
    mean = {k: sum(s[k] for s in states) / len(states) for k in states[0]}
    if start_state:
        mean = {k: (1 - toward_start) * v + toward_start * start_state[k] for k, v in mean.items()}
    model.load_state_dict(mean)

    _, held_ex = recorded_split(members[0], records[0], data_dir)
    record["calibration"] = calibrate(model, Predictor(model, tokenizer, "average"), held_ex)
    return write_derived(model, tokenizer, output, record, held_ex)


def _shapes(state: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in state.items()}


def _start_state(
    record: dict[str, Any], start: Path | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The weights of the model the runs were fine-tuned from, checked by version."""
    init = record.get("init_from")
    if init is None:
        raise PostHocError(
            "these runs were trained from a base encoder, not fine-tuned from a model: there is "
            "no start to pull toward (drop --toward-start)"
        )
    directory = start or Path(init["directory"])
    if not (directory / "training.json").exists():
        raise PostHocError(
            f"the runs started from {init['directory']} (version {init['model_version']}), "
            f"which {directory} does not hold; pass --start DIR where that model is"
        )
    model, _, version = load_model(directory)
    if version != init["model_version"]:
        raise PostHocError(
            f"{directory} holds version {version}, but the runs started from "
            f"{init['model_version']}; pass --start DIR where that model is"
        )
    return model.state_dict(), {"directory": str(directory), "model_version": version}


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
