"""Entity matching throughput: the matcher over thousands of watchlist entities.

Builds a synthetic watchlist (the shipped example plus N generated companies, each with a
ticker, an alias and some with case-sensitive aliases), then matches a stream of headlines of
which about a third name a watchlist entity, single-threaded, and prints build time,
headlines/s and µs per headline.

    python bench/bench_entity_match.py --entities 5000 --headlines 50000
"""

from __future__ import annotations

import argparse
import json
import random
import string
import time
from pathlib import Path

from entities.matcher import Matcher
from entities.watchlist import Entity, Watchlist, load_watchlist

EXAMPLE = Path(__file__).resolve().parent.parent / "entities" / "watchlists" / "example.yaml"
SUFFIXES = ("Holdings", "Group", "Industries", "Bank", "Energy", "Motors", "Foods", "Steel")
TEMPLATES = (
    "{e} shares slide after profit warning",
    "{e} beats estimates, raises full-year outlook",
    "Regulator fines {e} over disclosures",
    "{e}'s chief executive steps down",
    "{e} and {f} agree merger talks",
    "Analysts cut {e} target as margins shrink",
)
PLAIN = (
    "Oil prices rise as OPEC signals output cuts",
    "Treasury yields climb 25 bp before the Fed decision",
    "Sensex ends higher; banks lead gains",
    "IT spending slows as shell companies face a crackdown",
    "Gold steadies near record as the dollar weakens",
    "Rupee falls to a record low against the dollar",
)


def synthetic_watchlist(n: int, rng: random.Random) -> Watchlist:
    entities = list(load_watchlist(EXAMPLE).entities)
    for i in range(n):
        stem = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9)))
        name = f"{stem.capitalize()} {rng.choice(SUFFIXES)}"
        ticker = (stem[:4] + str(i % 10)).upper()
        exact = (stem.capitalize(),) if i % 3 == 0 else ()
        entities.append(Entity(f"e{i}", name, (ticker,), (f"{name} Ltd",), exact))
    return Watchlist(tuple(entities))


def headlines(watchlist: Watchlist, n: int, rng: random.Random) -> list[str]:
    names = [e.name for e in watchlist.entities]
    out = []
    for _ in range(n):
        if rng.random() < 1 / 3:
            template = rng.choice(TEMPLATES)
            out.append(template.format(e=rng.choice(names), f=rng.choice(names)))
        else:
            out.append(rng.choice(PLAIN))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--headlines", type=int, default=50000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    watchlist = synthetic_watchlist(args.entities, rng)
    started = time.perf_counter()
    matcher = Matcher(watchlist)
    build_s = time.perf_counter() - started
    texts = headlines(watchlist, args.headlines, rng)
    for t in texts[:1000]:  # warm-up
        matcher.match(t)
    started = time.perf_counter()
    named = sum(bool(matcher.match(t)) for t in texts)
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "entities": len(watchlist),
                "headlines": len(texts),
                "naming_an_entity": round(named / len(texts), 3),
                "build_ms": round(build_s * 1e3, 1),
                "headlines_per_s": round(len(texts) / elapsed),
                "us_per_headline": round(elapsed / len(texts) * 1e6, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
