"""Post-hoc steps for a model trained before `tapewatch train` did them itself: prior
correction (:mod:`classify.training.weights`) and temperature scaling
(:mod:`classify.training.calibration`).

Both recompute what training would have used from the model's training record: the same train
files (checked by sha256) and the same holdout split. Each writes a new model directory (the
source stays as it was) and records the source version and the command in its training record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from classify.model import HeadlineClassifier, load_model, save_model
from classify.predictor import Predictor
from classify.training.calibration import calibrate
from classify.training.card import write_card
from classify.training.data import Example, data_files, holdout, load_sources, sha256
from classify.training.selection import holdout_report, holdout_summary
from classify.training.sources import DEFAULT_SOURCES, TWITTER_SOURCES, Source, parse_sources
from classify.training.weights import correct_priors, head_weights


class PostHocError(ValueError):
    """The step cannot be applied to this model (the message says why and what to do)."""


def correct_model_dir(
    source: Path, output: Path, data_dir: Path, command: str = "tapewatch correct-priors"
) -> str:
    """Write a prior-corrected copy of the model in ``source`` to ``output``; return its version.

    ``command`` is recorded as what made the copy."""
    record = read_record(source, output)
    params = record["hyperparameters"]
    if params.get("prior_correction"):
        raise PostHocError(f"{source} was trained with prior correction already")
    if params["class_weighting"] == "none":
        raise PostHocError(f"{source} was trained without class weights: nothing to undo")
    if record.get("calibration"):
        # The bias shift is log(w) / T once the heads are scaled: correct first, then calibrate.
        raise PostHocError(
            f"{source} is temperature-scaled: prior-correct the model it was calibrated from, "
            "or retrain (tapewatch train does both, correction first)"
        )
    train_ex, held_ex = recorded_split(source, record, data_dir)
    model, tokenizer, source_version = load_model(source)
    correct_priors(model, *head_weights(train_ex, params["class_weighting"]))
    record["hyperparameters"]["prior_correction"] = True
    record["prior_correction"] = {"source_model_version": source_version, "command": command}
    return write_derived(model, tokenizer, output, record, held_ex)


def calibrate_model_dir(
    source: Path, output: Path, data_dir: Path, command: str = "tapewatch calibrate"
) -> str:
    """Write a temperature-scaled copy of the model in ``source`` to ``output``."""
    record = read_record(source, output)
    if record.get("calibration"):
        raise PostHocError(f"{source} is temperature-scaled already")
    _, held_ex = recorded_split(source, record, data_dir)
    model, tokenizer, source_version = load_model(source)
    record["calibration"] = calibrate(model, Predictor(model, tokenizer, "source"), held_ex) | {
        "post_hoc": {"source_model_version": source_version, "command": command}
    }
    record["hyperparameters"]["calibrate"] = True
    return write_derived(model, tokenizer, output, record, held_ex)


def read_record(source: Path, output: Path) -> dict[str, Any]:
    """``source``'s training record, once ``output`` is known not to be ``source`` itself."""
    if output.resolve() == source.resolve():
        raise PostHocError("write the new model to a new directory, not over its source")
    record: dict[str, Any] = json.loads((source / "training.json").read_text())
    return record


# Records made before training sources existed name the twitter files by head.
_OLD_NAMES = {"twitter-topic": "topic", "twitter-sentiment": "sentiment"}


def trained_sources(record: dict[str, Any]) -> tuple[Source, ...]:
    """The sources a model's training record says it was trained on."""
    declared = record["hyperparameters"].get("sources")
    if declared is None:
        return TWITTER_SOURCES
    if declared == "default":
        return DEFAULT_SOURCES
    return parse_sources(declared)


def recorded_split(
    source: Path, record: dict[str, Any], data_dir: Path
) -> tuple[list[Example], list[Example]]:
    """The source's train/holdout split, rebuilt from the same files (checked by sha256)."""
    sources = trained_sources(record)
    for name, path in data_files(data_dir, "train", sources).items():
        recorded = record["data"].get(name) or record["data"].get(_OLD_NAMES.get(name, ""))
        if recorded is None or sha256(path) != recorded["sha256"]:
            raise PostHocError(
                f"{path} differs from the file {source} was trained on (sha256 mismatch); "
                "point --data-dir at the data it was trained on"
            )
    params = record["hyperparameters"]
    rows = [ex for part in load_sources(data_dir, "train", sources).values() for ex in part]
    # Models trained before holdout_seed existed carved their holdout with the run's seed.
    seed = params.get("holdout_seed", params["seed"])
    return holdout(rows, params["holdout_fraction"], seed)


def write_derived(
    model: HeadlineClassifier,
    tokenizer: Any,
    output: Path,
    record: dict[str, Any],
    held_ex: list[Example],
) -> str:
    """Save a model derived from trained ones, with its record, holdout figures and card."""
    report = holdout_report(Predictor(model, tokenizer, "new"), held_ex)
    output.mkdir(parents=True, exist_ok=True)
    version = save_model(model, tokenizer, output)
    for name in ("eval-valid.json", "eval-valid-int8.json"):
        (output / name).unlink(missing_ok=True)  # a report left there would describe other weights
    record["model_version"] = version
    record["holdout"] = holdout_summary(report)
    (output / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    write_card(output)
    return version
