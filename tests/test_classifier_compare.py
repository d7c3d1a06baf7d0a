"""`tapewatch compare`: paired-bootstrap differences between two models on the same rows."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from classify.training.compare import paired_differences, weighted_scores
from classify.training.metrics import classification_report
from tests.conftest import BIN, cli_env
from tests.tiny_model import write_toy_data

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "tapewatch-minilm"


def _labels(size: int, classes: int, accuracy: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size)
    wrong = rng.random(size) > accuracy
    pred = np.where(wrong, (y + rng.integers(1, classes, size)) % classes, y)
    return y, pred


def test_point_estimates_are_the_eval_reports_metrics() -> None:
    """Unweighted, the bootstrap's metrics are exactly what `tapewatch eval` reports, absent
    classes included (20 topics, labels drawn from only 12 of them)."""
    y, pred = _labels(500, 12, 0.7, seed=1)
    scores = weighted_scores(y, pred, np.ones((1, len(y))), 20)
    report = classification_report(y, np.eye(20)[pred], [str(i) for i in range(20)])
    assert scores["accuracy"][0] == pytest.approx(report["accuracy"])
    assert scores["macro_f1"][0] == pytest.approx(report["macro_f1"])


def test_identical_predictions_tie_with_a_zero_interval() -> None:
    y, pred = _labels(300, 3, 0.8, seed=2)
    for d in paired_differences("sentiment", y, pred, pred.copy(), 3, resamples=200):
        assert (d.delta, d.low, d.high, d.verdict) == (0.0, 0.0, 0.0, "tie")


def test_clear_gains_and_losses_are_called_and_a_two_row_change_is_a_tie() -> None:
    y, base = _labels(2000, 3, 0.8, seed=3)
    fixed = base.copy()
    wrong = np.flatnonzero(base != y)
    fixed[wrong[:100]] = y[wrong[:100]]  # 100 more rows right: +0.05 accuracy
    better = paired_differences("sentiment", y, base, fixed, 3, resamples=300)
    assert better[0].metric == "accuracy" and better[0].delta == pytest.approx(0.05)
    assert [d.verdict for d in better] == ["better", "better"]
    assert 0 < better[0].low < 0.05 < better[0].high
    worse = paired_differences("sentiment", y, fixed, base, 3, resamples=300)
    assert [d.verdict for d in worse] == ["worse", "worse"]

    nudged = base.copy()
    nudged[wrong[:2]] = y[wrong[:2]]
    assert {d.verdict for d in paired_differences("s", y, base, nudged, 3, resamples=300)} == {
        "tie"
    }


def test_same_seed_same_interval() -> None:
    y, a = _labels(400, 5, 0.7, seed=4)
    _, b = _labels(400, 5, 0.7, seed=5)
    first = paired_differences("topic", y, a, b, 5, resamples=200, seed=7)
    assert first == paired_differences("topic", y, a, b, 5, resamples=200, seed=7)


def test_compare_command_calls_a_random_model_worse_than_the_shipped_one(
    tiny_model_dir: Path,
    tmp_path: Path,
) -> None:
    data = write_toy_data(tmp_path / "data")
    report_path = tmp_path / "report.json"
    run = subprocess.run(
        [BIN, "compare", tiny_model_dir, "--baseline", SHIPPED, "--data-dir", data,
         "--resamples", "200", "--output", report_path],
        env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(report_path.read_text())
    shipped = json.loads((SHIPPED / "training.json").read_text())["model_version"]
    assert report["baseline"] == shipped
    topic_accuracy = next(
        d for d in report["differences"] if (d["head"], d["metric"]) == ("topic", "accuracy")
    )
    # The shipped model reads the toy topics (Fed, oil, dividend) right; a random one cannot.
    assert topic_accuracy["baseline"] > 0.9 and topic_accuracy["verdict"] == "worse"
    assert "candidate worse on twitter-topic accuracy" in " ".join(run.stdout.split())

    same = subprocess.run(
        [BIN, "compare", SHIPPED, "--baseline", SHIPPED, "--data-dir", data, "--resamples", "100"],
        env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert same.returncode == 0, same.stderr
    assert "better" not in same.stdout and "worse" not in same.stdout
    assert "candidate indistinguishable on twitter-topic accuracy" in " ".join(same.stdout.split())
