"""Average the weights of two (or more) models fine-tuned from the same starting model into a
new model directory, for `tapewatch compare` to judge (a "model soup").

    .venv/bin/python bench/weight_average.py runs/news-src13 runs/news-tt13 --output runs/soup

Runs fine-tuned from one model stay in one basin of the loss, so their mean is itself a good
model that can keep what each run gained: here, one run's news sentiment and the other's
topics. The first model's tokenizer, configs and training record are copied; the record gains
the list of averaged versions. Nothing is trained; the result is an experiment, not a model
that `tapewatch train` reproduces.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from classify.model import WEIGHTS, model_version


def average(models: list[Path], output: Path) -> str:
    states = [load_file(str(m / WEIGHTS)) for m in models]
    keys = set(states[0])
    if any(set(s) != keys for s in states[1:]):
        raise SystemExit("the models hold different tensors: only runs of one architecture mix")
    mean = {
        k: (sum(s[k].float() for s in states) / len(states)).to(torch.float16).contiguous()
        for k in sorted(keys)
    }
    shutil.copytree(models[0], output, dirs_exist_ok=True)
    save_file(mean, str(output / WEIGHTS))
    record_path = output / "training.json"
    record = json.loads(record_path.read_text())
    record["averaged_from"] = [
        {"directory": str(m), "model_version": model_version(m)} for m in models
    ]
    record["model_version"] = model_version(output)
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record["model_version"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    if len(args.models) < 2:
        parser.error("name two or more model directories to average")
    print(f"saved {args.output} (version {average(args.models, args.output)})")


if __name__ == "__main__":
    main()
