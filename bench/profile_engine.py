"""Where the engine's time goes, per headline and core, against the budget a 10× speed-up allows.

Profiles ``Predictor.probabilities`` on one core (one worker, one thread: the engine's CPU
default runs one such worker per core) with ``torch.profiler``, groups the operators
(linear layers, attention, GELU, layer norm, the rest) and prints milliseconds per headline.
The naive baseline of ``bench_engine.py`` is measured in the same run, which gives the budget:
a 10× engine on ``cores`` cores has ``cores / (10 × baseline rate)`` seconds of one core per
headline. If the linear layers alone exceed it, no scheduling or kernel choice outside them
reaches 10× on this CPU.

    python bench/profile_engine.py --int8
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from bench.bench_engine import naive_pipeline_rate
from classify.hardware import cpu_description
from classify.predictor import Predictor, configure_cpu_threads, cpu_cores
from classify.training.data import load_split
from tapewatch.settings import Settings

GROUPS = (
    ("linear layers", ("linear", "addmm", "aten::mm")),
    ("attention", ("scaled_dot_product", "bmm", "softmax")),
    ("GELU", ("gelu",)),
    ("layer norm", ("layer_norm",)),
)


def group_of(op: str) -> str:
    return next((name for name, keys in GROUPS if any(k in op for k in keys)), "the rest")


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=settings.model_dir)
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--baseline-texts", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--int8", action="store_true", help="profile the CPU int8 engine")
    args = parser.parse_args()

    topic, _ = load_split(args.data_dir, "valid")
    texts = [ex.text for ex in topic[: args.texts]]
    cores = cpu_cores()
    configure_cpu_threads(cores)
    baseline = naive_pipeline_rate(args.model_dir, texts[: args.baseline_texts], "cpu")

    engine = Predictor.from_dir(
        args.model_dir,
        device="cpu",
        batch_size=args.batch_size,
        quantize_int8=args.int8,
        threads=1,
        workers=1,
    )
    engine.probabilities(texts[: args.batch_size])  # warm-up
    started = time.perf_counter()
    engine.probabilities(texts)
    wall_ms = (time.perf_counter() - started) * 1000 / len(texts)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        engine.probabilities(texts)
    spent: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        spent[group_of(event.key)] += event.self_cpu_time_total / 1000 / len(texts)  # ms
    total = sum(spent.values())
    budget = cores * 1000 / (10 * baseline)

    print(
        f"# {cpu_description()}, torch {torch.__version__}, {len(texts)} headlines, "
        f"batch {args.batch_size}, {'int8' if args.int8 else 'fp32'}, one core"
    )
    print(f"naive baseline ({cores} threads): {baseline:.0f} headlines/s")
    print(f"engine on one core: {wall_ms:.2f} ms a headline ({1000 / wall_ms:.0f}/s)")
    print("\n| operators | ms a headline a core | share |\n|---|---:|---:|")
    for name in [g for g, _ in GROUPS] + ["the rest"]:
        print(f"| {name} | {spent[name]:.2f} | {spent[name] / total:.0%} |")
    print(f"| all (profiled) | {total:.2f} | 100% |")
    print(
        f"\n10× the baseline on {cores} cores leaves {budget:.2f} ms a headline a core; "
        f"the linear layers alone take {spent['linear layers']:.2f} ms "
        f"({spent['linear layers'] / budget:.0%} of it), the whole engine {wall_ms:.2f} ms "
        f"({wall_ms / budget:.0%})."
    )


if __name__ == "__main__":
    main()
