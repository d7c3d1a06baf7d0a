"""Train and evaluate the entity sentiment model (``entities/model.py``) on SEntFiN's entity
labels, and set it against the baseline of giving each entity its headline's sentiment.

    python -m entities.train --output-dir runs/entity --epochs 2 --bf16

Starts from the headline model (``--init-from``, default the shipped one): its encoder and its
sentiment head. Validation is split by headline (``entities/data.py``). The report, written to
``eval-valid.json`` in the output directory and printed, gives accuracy and macro-F1 overall, on
single-entity headlines and on mixed-sentiment headlines, for the entity model and the
baseline side by side.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from classify.batching import length_grouped_batches
from entities.data import SENTIMENT_NAMES, EntityExample, split_by_headline
from entities.model import from_headline_model, save_entity_model
from entities.sentiment import EntitySentiment, encode_pairs, pad_pairs

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent


def scores(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    """Accuracy and macro-F1 over the three sentiments (a class absent from both counts 0)."""
    n = len(gold)
    if n == 0:
        return {"n": 0, "accuracy": float("nan"), "macro_f1": float("nan")}
    f1s = []
    for c in SENTIMENT_NAMES:
        tp = sum(g == c and p == c for g, p in zip(gold, pred, strict=True))
        fp = sum(g != c and p == c for g, p in zip(gold, pred, strict=True))
        fn = sum(g == c and p != c for g, p in zip(gold, pred, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / n
    return {"n": n, "accuracy": round(accuracy, 4), "macro_f1": round(sum(f1s) / len(f1s), 4)}


SUBSETS = {
    "overall": lambda e: True,
    "single_entity": lambda e: e.single,
    "multi_entity": lambda e: not e.single,
    "mixed_sentiment": lambda e: e.mixed,
}


def report(valid: Sequence[EntityExample], predictions: dict[str, Sequence[str]]) -> dict[str, Any]:
    """{subset: {system: scores}} for every named system's predictions (in ``valid`` order)."""
    out: dict[str, Any] = {}
    for subset, keep in SUBSETS.items():
        rows = [i for i, e in enumerate(valid) if keep(e)]
        out[subset] = {
            system: scores([valid[i].sentiment for i in rows], [pred[i] for i in rows])
            for system, pred in predictions.items()
        }
    return out


def baseline_predictions(headline_dir: Path, valid: Sequence[EntityExample]) -> list[str]:
    """Each entity gets its headline's sentiment from the headline model."""
    from classify.predictor import Predictor

    predictor = Predictor.from_dir(headline_dir, device="cpu", workers=1)
    titles = sorted({e.title for e in valid})
    by_title = {
        p.text: p.sentiment
        for p in predictor.predict_batch(titles)
        if hasattr(p, "sentiment")  # an unclassifiable title (none here) has no sentiment
    }
    return [by_title.get(e.title, "neutral") for e in valid]


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    train_rows, valid_rows = split_by_headline(args.data_dir, seed=args.seed)
    if args.limit_train:
        train_rows = rng.sample(train_rows, min(args.limit_train, len(train_rows)))
    if args.limit_valid:
        valid_rows = valid_rows[: args.limit_valid]
    log.info("entity examples: %d train, %d valid", len(train_rows), len(valid_rows))

    model, tokenizer = from_headline_model(
        args.init_from, max_length=args.max_length, mark_entity=args.mark_entity
    )
    label = {s: i for i, s in enumerate(model.config.sentiments)}
    encoded = encode_pairs(
        tokenizer,
        [(e.entity, e.title) for e in train_rows],
        args.max_length,
        marked=args.mark_entity,
    )
    targets = torch.tensor([label[e.sentiment] for e in train_rows])
    pad_id = tokenizer.pad_token_id or 0
    steps_per_epoch = math.ceil(len(encoded) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warmup = max(1, int(0.06 * total))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))),
    )
    model.train()
    started, step = time.perf_counter(), 0
    lengths = [len(r["input_ids"]) for r in encoded]
    for epoch in range(args.epochs):
        for batch in length_grouped_batches(lengths, args.batch_size, rng):
            ids, mask, types = pad_pairs([encoded[i] for i in batch], pad_id)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                logits = model(ids, mask, types)
            loss = F.cross_entropy(logits.float(), targets[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step % 50 == 0 or step == total:
                log.info(
                    "epoch %d step %d/%d loss %.4f (%.2f s/step)",
                    epoch + 1,
                    step,
                    total,
                    loss.item(),
                    (time.perf_counter() - started) / step,
                )
    train_s = time.perf_counter() - started
    model.eval()
    version = save_entity_model(model, tokenizer, args.output_dir)

    # Scored from the saved (fp16) weights, as the classify stage will load them.
    engine = EntitySentiment.from_dir(args.output_dir, max_length=args.max_length)
    entity_pred = [v.sentiment for v in engine.predict([(e.entity, e.title) for e in valid_rows])]
    base_pred = baseline_predictions(args.init_from, valid_rows)
    from classify.model import model_version

    result = {
        "model_version": engine.version,
        "init_from": model.config.init_from,
        "baseline": f"headline sentiment of {args.init_from.name} {model_version(args.init_from)}",
        "valid": report(valid_rows, {"entity_model": entity_pred, "headline_baseline": base_pred}),
        "train_examples": len(train_rows),
        "train_seconds": round(train_s, 1),
        "steps": step,
        "args": {k: _portable(v) for k, v in vars(args).items()},
    }
    (args.output_dir / "eval-valid.json").write_text(json.dumps(result, indent=2) + "\n")
    log.info("saved %s to %s", version, args.output_dir)
    return result


def _portable(value: Any) -> Any:
    """A path as the repository's documents write it (no machine's directories)."""
    if not isinstance(value, Path):
        return value
    text = str(value.resolve())
    for root, name in ((REPO_ROOT, "<repo>"), (REPO_ROOT.parent, "<repo>/..")):
        if text.startswith(str(root) + "/") or text == str(root):
            return name + text[len(str(root)) :]
    return value.name


def render_table(result: dict[str, Any]) -> str:
    lines = [
        "| validation subset | rows | entity model acc | entity model macro-F1 "
        "| headline baseline acc | headline baseline macro-F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for subset, systems in result["valid"].items():
        m, b = systems["entity_model"], systems["headline_baseline"]
        lines.append(
            f"| {subset.replace('_', ' ')} | {m['n']} | {m['accuracy']:.3f} | "
            f"{m['macro_f1']:.3f} | {b['accuracy']:.3f} | {b['macro_f1']:.3f} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from tapewatch.settings import Settings

    settings = Settings()
    p = argparse.ArgumentParser(prog="python -m entities.train", description=__doc__)
    p.add_argument("--output-dir", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, default=settings.data_dir)
    p.add_argument("--init-from", type=Path, default=settings.model_dir)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--learning-rate", type=float, default=4e-5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=settings.entities.max_length)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CPUs with AMX/AVX-512)")
    p.add_argument(
        "--mark-entity", action="store_true", help="bracket the entity's mention in the headline"
    )
    p.add_argument("--threads", type=int, default=None, help="1 trains fastest on a busy CPU")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--limit-train", type=int, default=0, help="train on this many rows (tests)")
    p.add_argument("--limit-valid", type=int, default=0, help="score this many rows (tests)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    result = train(parse_args(argv))
    print(render_table(result))
    print(json.dumps({k: v for k, v in result.items() if k != "valid"}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["main", "report", "scores", "train"]
