"""The shipped entity model: complete, the version its report names, and target-aware on the
headline the issue is about (good for one company, bad for the other)."""

from __future__ import annotations

import json
from pathlib import Path

from entities.config import EntitiesConfig
from entities.sentiment import EntitySentiment

SHIPPED = EntitiesConfig().model_dir


def test_the_shipped_entity_model_is_the_one_its_report_describes() -> None:
    report = json.loads((SHIPPED / "eval-valid.json").read_text())
    engine = EntitySentiment.from_dir(SHIPPED)
    assert engine.version == report["model_version"]
    assert engine.model.config.mark_entity
    mixed = report["valid"]["mixed_sentiment"]
    assert mixed["entity_model"]["macro_f1"] > mixed["headline_baseline"]["macro_f1"]
    assert "/" not in engine.model.config.init_from  # a name and version, no machine's path


def test_one_headline_two_entities_two_verdicts() -> None:
    engine = EntitySentiment.from_dir(Path(SHIPPED))
    title = "Tata Steel gains as JSW slips"
    verdicts = engine.predict([("Tata Steel", title), ("JSW", title)])
    assert [v.sentiment for v in verdicts] == ["positive", "negative"]
