"""Inference engine throughput against a naive baseline, side by side in one run.

Baseline: transformers ``pipeline("feature-extraction")`` called once per headline on the same
encoder, then mean pooling and the same two heads, i.e. the same model used the obvious way.
It runs before and after the engine rows, and the ratios use the mean of the two.
Engine: ``Predictor.predict_batch`` (length-sorted buckets, dynamic padding, inference mode),
tokenisation and result building included, at several batch sizes, fp32 and CPU int8 (and
bf16 autocast where the CPU has bf16 dot products).

    python bench/bench_engine.py --model-dir models/tapewatch-minilm --texts 2000
    python bench/bench_engine.py --device cuda --batch-sizes 1 64 256 1024 --compile   # GPU host
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from naive_pipeline import NaivePipeline

from classify.hardware import cpu_description, native_bf16
from classify.predictor import Predictor, configure_cpu_threads
from classify.training.data import load_split
from tapewatch.settings import Settings


def naive_pipeline_rate(
    model_dir: Path, texts: list[str], device: str, threads: int | None
) -> float:
    naive = NaivePipeline(model_dir, device, threads)
    for text in texts[:5]:  # warm-up, as the engine gets: the first calls set things up
        naive.classify(text)
    started = time.perf_counter()
    for text in texts:
        naive.classify(text)
    return len(texts) / (time.perf_counter() - started)


def engine_rate(predictor: Predictor, texts: list[str], repeat: int = 1) -> float:
    predictor.predict_batch(texts[: predictor.batch_size])  # warm-up
    if predictor.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeat):
        predictor.predict_batch(texts)
    if predictor.device.type == "cuda":
        torch.cuda.synchronize()
    return repeat * len(texts) / (time.perf_counter() - started)


def setup(predictor: Predictor) -> str:
    if predictor.device.type != "cpu":
        return ""
    return f", {predictor.workers} × {torch.get_num_threads()} threads"


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=settings.model_dir)
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--texts", type=int, default=2000, help="validation headlines to classify")
    parser.add_argument("--baseline-texts", type=int, default=300)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32, 64, 128, 256])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--workers", type=int, default=None, help="CPU buckets in flight (default: one per core)"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the encoder (CUDA)")
    parser.add_argument("--no-int8", action="store_true")
    args = parser.parse_args()

    if args.device == "cpu":
        threads = configure_cpu_threads(args.threads)
    else:
        threads = torch.get_num_threads()
    topic, _ = load_split(args.data_dir, "valid")
    texts = [ex.text for ex in topic][: args.texts]
    print(
        f"# {cpu_description()}, {os.cpu_count()} CPUs, {threads} torch threads, "
        f"torch {torch.__version__}, device {args.device}, {len(texts)} texts"
    )
    if args.device.startswith("cuda"):
        print(f"# GPU: {torch.cuda.get_device_name(0)}")

    def engine(
        batch: int, *, int8: bool = False, bf16: bool = False, workers: int | None = args.workers
    ) -> Predictor:
        return Predictor.from_dir(
            args.model_dir,
            device=args.device,
            batch_size=batch,
            quantize_int8=int8,
            compile=args.compile,
            threads=args.threads,
            workers=workers,
            bf16=bf16,
        )

    rows: list[tuple[str, int | str, float]] = []
    before = naive_pipeline_rate(
        args.model_dir, texts[: args.baseline_texts], args.device, args.threads
    )
    print(f"baseline {before:.0f}/s", flush=True)
    cpu = args.device == "cpu"
    for batch in args.batch_sizes:
        predictor = engine(batch)
        rate = engine_rate(predictor, texts)
        rows.append(
            (f"engine, fp32{'' if cpu else ' + bf16 autocast'}{setup(predictor)}", batch, rate)
        )
        print(f"engine batch {batch}: {rate:.0f}/s", flush=True)
    if cpu and not args.no_int8:
        for batch in (32, 64, 256):
            predictor = engine(batch, int8=True)
            rate = engine_rate(predictor, texts)
            rows.append((f"engine, int8 dynamic quantisation{setup(predictor)}", batch, rate))
            print(f"int8 batch {batch}: {rate:.0f}/s", flush=True)
    if cpu and native_bf16(torch.device("cpu")):
        # What the teachers' scoring uses under --bf16; outputs within ~0.01 of fp32.
        predictor = engine(64, bf16=True)
        rate = engine_rate(predictor, texts)
        rows.append((f"engine, bf16 autocast{setup(predictor)}", 64, rate))
        print(f"bf16 batch 64: {rate:.0f}/s", flush=True)
    if cpu and (args.workers or 0) != 1:
        # The same engine with every core inside each bucket's kernels: what workers buy.
        for int8 in (False, True) if not args.no_int8 else (False,):
            predictor = engine(64, int8=int8, workers=1)
            rate = engine_rate(predictor, texts)
            name = "int8 dynamic quantisation" if int8 else "fp32"
            rows.append((f"engine, {name}{setup(predictor)}", 64, rate))
            print(f"{name} batch 64, one worker: {rate:.0f}/s", flush=True)

    # Measured again at the end: a VM's speed drifts during the run, and the ratio uses the mean.
    after = naive_pipeline_rate(
        args.model_dir, texts[: args.baseline_texts], args.device, args.threads
    )
    print(f"baseline again {after:.0f}/s", flush=True)
    baseline = (before + after) / 2
    naive = f"naive: pipeline() per headline, fp32 (mean of {before:.0f} before, {after:.0f} after)"
    print("\n| setup | batch | headlines/s | × baseline |\n|---|---:|---:|---:|")
    for name, batch, rate in [(naive, 1, baseline), *rows]:
        print(f"| {name} | {batch} | {rate:,.0f} | {rate / baseline:.1f}× |")


if __name__ == "__main__":
    main()
