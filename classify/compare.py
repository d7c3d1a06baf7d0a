"""Is a candidate model better than the baseline? A paired bootstrap on the validation splits.

Both models classify the same rows. Redrawing the rows with replacement and recomputing each
metric for both models gives the spread of their difference: a difference whose 95% interval
excludes zero is one these data can tell apart; the rest are ties at this sample size. Pairing
matters: the two models get most rows equally right or wrong, so the interval on the difference
is far narrower than the two models' separate intervals would suggest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from classify.data import load_split
from classify.evaluate import head_probabilities
from classify.predictor import Predictor

HEADS = ("topic", "sentiment")
METRICS = ("accuracy", "macro_f1")


@dataclass(frozen=True)
class Difference:
    head: str
    metric: str
    baseline: float
    candidate: float
    low: float  # 2.5th percentile of candidate - baseline over the resamples
    high: float  # 97.5th percentile

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "tie"


def weighted_scores(
    y_true: NDArray[np.int64], y_pred: NDArray[np.int64], weights: NDArray[np.float64], n: int
) -> dict[str, NDArray[np.float64]]:
    """Accuracy and macro-F1 for each row of ``weights`` (how often each example is drawn).

    All classes count in the macro average, as in `tapewatch eval`; a class absent from both the
    labels and the predictions of a resample scores F1 0 for both models alike.
    """
    truth = np.eye(n)[y_true]  # examples x classes, one-hot
    hit = truth * (y_pred == y_true)[:, None]
    predicted = np.eye(n)[y_pred]
    tp, actual, guessed = weights @ hit, weights @ truth, weights @ predicted
    denom = actual + guessed
    # 2TP / (predicted + actual) is the harmonic mean of precision and recall.
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"accuracy": tp.sum(axis=1) / weights.sum(axis=1), "macro_f1": f1.mean(axis=1)}


def paired_differences(
    head: str,
    y_true: NDArray[np.int64],
    baseline: NDArray[np.int64],
    candidate: NDArray[np.int64],
    n_classes: int,
    resamples: int = 1000,
    seed: int = 0,
) -> list[Difference]:
    """Point difference and 95% paired-bootstrap interval for each metric of one head."""
    rng = np.random.default_rng(seed)
    size = len(y_true)
    # Every resample draws `size` rows with replacement: row counts are multinomial.
    draws = rng.multinomial(size, np.full(size, 1.0 / size), size=resamples).astype(np.float64)
    once = np.ones((1, size))
    a_all, b_all = (weighted_scores(y_true, p, once, n_classes) for p in (baseline, candidate))
    a_boot, b_boot = (weighted_scores(y_true, p, draws, n_classes) for p in (baseline, candidate))
    out = []
    for metric in METRICS:
        low, high = np.percentile(b_boot[metric] - a_boot[metric], [2.5, 97.5])
        out.append(
            Difference(
                head,
                metric,
                float(a_all[metric][0]),
                float(b_all[metric][0]),
                float(low),
                float(high),
            )
        )
    return out


def compare(
    baseline: Predictor,
    candidate: Predictor,
    data_dir: Path,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Both models on the validation splits, every head and metric, as a JSON-ready report."""
    examples = dict(zip(HEADS, load_split(data_dir, "valid"), strict=True))
    differences: list[Difference] = []
    sizes = {}
    for head in HEADS:
        y, base_probs = head_probabilities(baseline, examples[head], head)
        _, cand_probs = head_probabilities(candidate, examples[head], head)
        differences += paired_differences(
            head,
            y,
            base_probs.argmax(axis=1),
            cand_probs.argmax(axis=1),
            base_probs.shape[1],
            resamples,
            seed,
        )
        sizes[head] = len(y)
    return {
        "baseline": baseline.version,
        "candidate": candidate.version,
        "split": "valid",
        "n": sizes,
        "resamples": resamples,
        "differences": [
            asdict(d) | {"difference": d.delta, "verdict": d.verdict} for d in differences
        ],
    }


def summary(report: dict[str, Any]) -> str:
    """One line: where the candidate is better, worse, or indistinguishable from the baseline."""
    words = {"better": "better", "worse": "worse", "tie": "indistinguishable"}
    named: dict[str, list[str]] = {v: [] for v in words}
    for d in report["differences"]:
        named[d["verdict"]].append(f"{d['head']} {d['metric'].replace('_', '-')}")
    line = "candidate " + "; ".join(
        f"{words[v]} on {', '.join(names)}" for v, names in named.items() if names
    )
    if named["better"] and not named["worse"]:
        return line + ": it improves validation without losing anywhere"
    return line
