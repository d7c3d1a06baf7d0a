"""The model that ships in the repo: it loads offline, gets clear headlines right, and the
`tapewatch classify` command turns a file into JSON Lines with per-item error records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from classify.predictor import Prediction, Predictor
from classify.training.card import render_card
from tapewatch.settings import Settings

MODEL_DIR = Settings().model_dir
BIN = Path(sys.executable).parent / "tapewatch"


@pytest.fixture(scope="module", params=[False, True], ids=["fp32", "int8"])
def predictor(request: pytest.FixtureRequest) -> tuple[Predictor, bool]:
    """The engine as shipped, and with the CPU int8 option a user may turn on."""
    return Predictor.from_dir(MODEL_DIR, device="cpu", quantize_int8=request.param), request.param


# Clear headlines the shipped model gets wrong under int8 only, with why. Each one is asserted to
# be still wrong, so one that the next model gets right fails here until it leaves the list.
# (Empty since 8aee70db996f8b22: its topic head learnt from tweets read as headlines, and it
# reads "Acme raises quarterly dividend by 10%" as Dividend 0.81 in fp32 and 0.79 in int8,
# where 2055a408b2ef2555 had 0.24 and, under int8, Stock Movement by 0.02.)
KNOWN_INT8_MISSES: dict[str, str] = {}


def test_shipped_model_is_small_and_complete() -> None:
    weights = MODEL_DIR / "model.safetensors"
    assert weights.stat().st_size < 50 * 1024 * 1024
    card = (MODEL_DIR / "README.md").read_text()
    assert "tapewatch train" in card and "sha256" in card
    # Rendered from training.json and the eval reports: `tapewatch eval` re-renders it, so a
    # hand edit would be lost and would leave a checkout dirty.
    assert card == render_card(MODEL_DIR)


@pytest.mark.parametrize(
    ("headline", "topic", "sentiment"),
    [
        ("Acme Corp issues profit warning, shares plunge 20%", None, "negative"),
        ("Acme shares tumble after the company cuts its full-year outlook", None, "negative"),
        ("Acme raises quarterly dividend by 10%", "Dividend", "positive"),
        ("Fed raises interest rates by 25 basis points", "Fed | Central Banks", None),
        ("ECB holds rates steady, signals cuts later this year", "Fed | Central Banks", None),
        ("Oil prices jump as OPEC+ agrees deeper output cuts", "Energy | Oil", None),
        ("Acme to acquire Widget Inc in $2 billion deal", "M&A | Investments", None),
        ("Acme beats earnings estimates, revenue up 15%", None, "positive"),
        # News-headline style: Title Case, magnitudes and currencies, no cashtags or links. The
        # model reads news, not only tweets: polar headlines are not "neutral".
        ("Sensex Has Worst Day Since March As Bank, IT Stocks Fall", None, "negative"),
        ("Nikkei −3.2% As Exporters Slump On Stronger Yen", None, "negative"),
        ("Globex Q2 Net Loss Widens To Rs 410 Crore", None, "negative"),
        ("Hooli To Cut 12,000 Jobs As Ad Revenue Slides", None, "negative"),
        ("Regulator Fines Acme Bank $1.2bn Over Money-Laundering Failures", None, "negative"),
        ("Brent crude slumps 6% as demand fears deepen", "Energy | Oil", "negative"),
        ("Initech Shares Hit Record High After Upbeat Guidance", None, "positive"),
        ("Globex Q3 Profit Jumps 40% To Rs 1,200 Crore, Beats Estimates", None, "positive"),
        ("Fed’s Powell: “No Hurry” To Cut Rates", "Fed | Central Banks", None),
        ("Acme To Announce Third-Quarter Results On October 24", None, "neutral"),
    ],
)
def test_clear_headlines(
    predictor: tuple[Predictor, bool], headline: str, topic: str | None, sentiment: str | None
) -> None:
    engine, int8 = predictor
    (p,) = engine.predict_batch([headline])
    assert isinstance(p, Prediction)
    right = (topic is None or p.topic == topic) and (sentiment is None or p.sentiment == sentiment)
    if int8 and headline in KNOWN_INT8_MISSES:
        assert not right, "int8 reads this headline right now: take it off KNOWN_INT8_MISSES"
        pytest.xfail(KNOWN_INT8_MISSES[headline])
    if topic is not None:
        assert p.topic == topic, p.probabilities["topic"]
    if sentiment is not None:
        assert p.sentiment == sentiment, p.probabilities["sentiment"]


def test_classify_command_writes_json_lines(tmp_path: Path) -> None:
    source = tmp_path / "headlines.txt"
    source.write_bytes(
        b"Fed raises interest rates by 25 basis points\n"
        b"\n"
        b"Acme \xff\xfe broken bytes\n"
        b"Acme raises quarterly dividend by 10%\n"
    )
    out = subprocess.run([BIN, "classify", str(source)], capture_output=True, check=True)
    records = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert len(records) == 4
    assert records[0]["topic"] == "Fed | Central Banks"
    assert records[1]["error"] == "empty text"
    assert records[2]["error"] == "invalid UTF-8"
    assert records[3]["sentiment"] == "positive"
    versions = {r["model_version"] for r in records}
    assert len(versions) == 1
    assert b"2 classified, 2 error records" in out.stderr


def test_classify_command_reads_csv(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text('id,text\n1,"Oil prices jump as OPEC+ agrees deeper output cuts"\n2,""\n')
    out = subprocess.run([BIN, "classify", str(source)], capture_output=True, check=True, text=True)
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert records[0]["topic"] == "Energy | Oil"
    assert records[1] == {
        "text": "",
        "error": "empty text",
        "model_version": records[0]["model_version"],
    }
    bad = tmp_path / "bad.csv"
    bad.write_text("headline\nsomething\n")
    failed = subprocess.run([BIN, "classify", str(bad)], capture_output=True, text=True)
    assert failed.returncode == 2
    assert "needs a 'text' column" in failed.stderr
