"""Prior correction for a model trained before training applied it itself.

See :mod:`classify.weights` for what the correction is and why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from classify.card import write_card
from classify.data import data_files, holdout, load_split, sha256
from classify.model import load_model, save_model
from classify.predictor import Predictor
from classify.train import holdout_report
from classify.weights import correct_priors, head_weights


class PriorCorrectionError(ValueError):
    """The model cannot be corrected (the message says why and what to do)."""


def correct_model_dir(source: Path, output: Path, data_dir: Path) -> str:
    """Write a prior-corrected copy of the model in ``source`` to ``output``; return its version.

    The class weights are recomputed from ``source``'s training record: the same train files
    (checked by sha256), the same holdout split and the same weighting scheme.
    """
    record: dict[str, Any] = json.loads((source / "training.json").read_text())
    params = record["hyperparameters"]
    if params.get("prior_correction"):
        raise PriorCorrectionError(f"{source} was trained with prior correction already")
    if params["class_weighting"] == "none":
        raise PriorCorrectionError(f"{source} was trained without class weights: nothing to undo")
    if output.resolve() == source.resolve():
        raise PriorCorrectionError("write the corrected model to a new directory, not over it")
    files = data_files(data_dir, "train")
    for name, path in files.items():
        if sha256(path) != record["data"][name]["sha256"]:
            raise PriorCorrectionError(
                f"{path} differs from the file {source} was trained on (sha256 mismatch); "
                "point --data-dir at the data it was trained on"
            )
    topic, sentiment = load_split(data_dir, "train")
    # Models trained before holdout_seed existed carved their holdout with the run's seed.
    seed = params.get("holdout_seed", params["seed"])
    train_ex, held_ex = holdout(topic + sentiment, params["holdout_fraction"], seed)
    model, tokenizer, source_version = load_model(source)
    correct_priors(model, *head_weights(train_ex, params["class_weighting"]))
    report = holdout_report(Predictor(model, tokenizer, "corrected"), held_ex)

    output.mkdir(parents=True, exist_ok=True)
    version = save_model(model, tokenizer, output)
    for name in ("eval-valid.json", "eval-valid-int8.json"):
        (output / name).unlink(missing_ok=True)  # a report left there would describe other weights
    record["model_version"] = version
    record["hyperparameters"]["prior_correction"] = True
    record["holdout"] = {
        h: {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"]} for h, r in report.items()
    }
    record["prior_correction"] = {
        "source_model_version": source_version,
        "command": " ".join(["tapewatch", *sys.argv[1:]]),
    }
    (output / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    write_card(output)
    return version
