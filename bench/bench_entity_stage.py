"""What entity matching and entity sentiment cost the classify stage.

Runs the classify stage's batch step (``classify.stage.process_batch``: decode, the headline
model, and with a tagger the entity step) in this process over the same micro-batches, without
and with the entity step, and prints headlines/s of each and the throughput lost. The stream
has a third of its headlines naming a watchlist entity: the watchlist is every entity SEntFiN
labels (thousands of names), the named third are SEntFiN titles, the rest are twitter-set
texts that name none of them. Kafka and PostgreSQL are left out: they cost the same per
headline either way, apart from the entity rows, which go into the same transaction.

    python bench/bench_entity_stage.py --headlines 3000 --entity-model runs/entity
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from classify.hardware import native_bf16
from classify.predictor import Predictor
from classify.stage import process_batch
from entities.data import load_titles
from entities.matcher import Matcher
from entities.sentiment import EntitySentiment
from entities.tagger import EntityTagger
from entities.watchlist import Entity, Watchlist
from tapewatch.events import Headline
from tapewatch.settings import Settings


def sentfin_watchlist(titles: dict[str, dict[str, str]]) -> Watchlist:
    names = sorted({e for decisions in titles.values() for e in decisions})
    entities, seen = [], set()
    for name in names:
        entity_id = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "x"
        if entity_id in seen:
            continue
        seen.add(entity_id)
        entities.append(Entity(entity_id, name))
    return Watchlist(tuple(entities))


def stream(data_dir: Path, n: int, rng: random.Random) -> tuple[list[str], Watchlist]:
    titles = load_titles(data_dir)
    watchlist = sentfin_watchlist(titles)
    matcher = Matcher(watchlist)
    named = [t for t in titles if matcher.match(t)]
    with (data_dir / "twitter-financial-news-sentiment" / "valid.csv").open() as f:
        plain = [r["text"] for r in csv.DictReader(f) if not matcher.match(r["text"])]
    texts = [rng.choice(named) if i % 3 == 0 else rng.choice(plain) for i in range(n)]
    return texts, watchlist


def messages(texts: list[str]) -> list[tuple[bytes, bytes]]:
    now = datetime.now(UTC)
    out = []
    for i, title in enumerate(texts):
        h = Headline(
            id=f"{i:032x}", source="bench", title=title, url=None, published_at=now,
            ingested_at=now,
        )  # fmt: skip
        out.append((h.id.encode(), h.to_json()))
    return out


def run(
    batches: list[list[tuple[bytes, bytes]]], predictor: Predictor, tagger: EntityTagger | None
) -> tuple[float, int]:
    """Seconds for all batches, and the entity rows they made."""
    rows = 0
    started = time.perf_counter()
    for batch in batches:
        tag = tagger.tag if tagger is not None else None
        rows += len(process_batch(batch, predictor.predict_batch, tag=tag).entities)
    return time.perf_counter() - started, rows


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--headlines", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=settings.classify.max_batch)
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--model-dir", type=Path, default=settings.model_dir)
    parser.add_argument("--entity-model", type=Path, default=settings.entities.model_dir)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--entity-bf16",
        choices=("auto", "on", "off"),
        default="auto",
        help="bf16 autocast of the entity engine (auto: where the CPU has native bf16)",
    )
    args = parser.parse_args()
    rng = random.Random(5)
    texts, watchlist = stream(args.data_dir, args.headlines, rng)
    msgs = messages(texts)
    batches = [msgs[i : i + args.batch] for i in range(0, len(msgs), args.batch)]
    predictor = Predictor.from_dir(args.model_dir, device="cpu")
    # Threads as in the classify worker: the predictor's one bucket per core, and so the
    # entity engine's.
    cores = len(os.sched_getaffinity(0))
    bf16 = (
        native_bf16(torch.device("cpu")) if args.entity_bf16 == "auto" else args.entity_bf16 == "on"
    )
    sentiment = EntitySentiment.from_dir(args.entity_model, workers=cores, bf16=bf16)
    tagger = EntityTagger(Matcher(watchlist), sentiment)
    run(batches[:3], predictor, tagger)  # warm-up of both paths
    # Alternating rounds: this machine's speed drifts, so each path sees the same drift.
    plain_s, tagged_s = [], []
    rows = 0
    for _ in range(args.rounds):
        plain_s.append(run(batches, predictor, None)[0])
        elapsed, rows = run(batches, predictor, tagger)
        tagged_s.append(elapsed)
    named = sum(bool(tagger.matcher.match(t)) for t in texts)
    multi = sum(len(tagger.matcher.match(t)) > 1 for t in texts)
    plain, tagged = min(plain_s), min(tagged_s)
    print(
        json.dumps(
            {
                "headlines": len(texts),
                "entity_bf16": bf16,
                "watchlist_entities": len(watchlist),
                "naming_an_entity": round(named / len(texts), 3),
                "naming_several": round(multi / len(texts), 3),
                "entity_rows": rows,
                "plain_headlines_per_s": round(len(texts) / plain, 1),
                "with_entities_headlines_per_s": round(len(texts) / tagged, 1),
                "throughput_lost": round(1 - plain / tagged, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
