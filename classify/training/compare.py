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

from classify.predictor import Predictor
from classify.training.evaluate import head_probabilities, validation_sets
from classify.training.sources import EVALUATION_SOURCES, Source

METRICS = ("accuracy", "macro_f1")
# Sentiment sets also compare the recall of "negative": the bad news a monitor must not miss.
NEGATIVE_RECALL = "negative_recall"


@dataclass(frozen=True)
class Difference:
    head: str
    metric: str
    baseline: float
    candidate: float
    low: float  # 2.5th percentile of candidate - baseline over the resamples
    high: float  # 97.5th percentile
    source: str = ""  # the validation set (a declared source's name)

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
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    return {
        "accuracy": tp.sum(axis=1) / weights.sum(axis=1),
        "macro_f1": f1.mean(axis=1),
        "recall": recall,  # (resamples, classes)
    }


def paired_differences(
    head: str,
    y_true: NDArray[np.int64],
    baseline: NDArray[np.int64],
    candidate: NDArray[np.int64],
    n_classes: int,
    resamples: int = 1000,
    seed: int = 0,
    *,
    negative: int | None = None,
    source: str = "",
) -> list[Difference]:
    """Point difference and 95% paired-bootstrap interval for each metric of one head (and the
    recall of class ``negative``, when given, first)."""
    rng = np.random.default_rng(seed)
    size = len(y_true)
    # Every resample draws `size` rows with replacement: row counts are multinomial.
    draws = rng.multinomial(size, np.full(size, 1.0 / size), size=resamples).astype(np.float64)
    once = np.ones((1, size))
    a_all, b_all = (weighted_scores(y_true, p, once, n_classes) for p in (baseline, candidate))
    a_boot, b_boot = (weighted_scores(y_true, p, draws, n_classes) for p in (baseline, candidate))
    series = {m: (a_all[m], b_all[m], a_boot[m], b_boot[m]) for m in METRICS}
    if negative is not None:
        series = {
            NEGATIVE_RECALL: (
                a_all["recall"][:, negative],
                b_all["recall"][:, negative],
                a_boot["recall"][:, negative],
                b_boot["recall"][:, negative],
            )
        } | series
    out = []
    for metric, (a_point, b_point, a_rs, b_rs) in series.items():
        low, high = np.percentile(b_rs - a_rs, [2.5, 97.5])
        out.append(
            Difference(
                head,
                metric,
                float(a_point[0]),
                float(b_point[0]),
                float(low),
                float(high),
                source,
            )
        )
    return out


def compare(
    baseline: Predictor,
    candidate: Predictor,
    data_dir: Path,
    resamples: int = 1000,
    seed: int = 0,
    sources: tuple[Source, ...] = EVALUATION_SOURCES,
) -> dict[str, Any]:
    """Both models on every source's validation split, every metric, as a JSON-ready report."""
    differences: list[Difference] = []
    sizes = {}
    for name, (source, examples) in validation_sets(data_dir, sources).items():
        y, base_probs = head_probabilities(baseline, examples, source.head)
        _, cand_probs = head_probabilities(candidate, examples, source.head)
        labels = baseline.sentiments if source.head == "sentiment" else baseline.topics
        differences += paired_differences(
            source.head,
            y,
            base_probs.argmax(axis=1),
            cand_probs.argmax(axis=1),
            base_probs.shape[1],
            resamples,
            seed,
            negative=list(labels).index("negative") if "negative" in labels else None,
            source=name,
        )
        sizes[name] = len(y)
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
        where = d.get("source") or d["head"]
        named[d["verdict"]].append(f"{where} {d['metric'].replace('_', '-')}")
    line = "candidate " + "; ".join(
        f"{words[v]} on {', '.join(names)}" for v, names in named.items() if names
    )
    if named["better"] and not named["worse"]:
        return line + ": it improves validation without losing anywhere"
    return line
