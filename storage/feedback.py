"""Analyst feedback: headline corrections and alert verdicts in, training data and rule
precision out.

Writes go through the insert-only role (``tapewatch_feedback``, migration 0005): the statements
here never read back what they insert (no RETURNING), since that role may not SELECT.
``export_corrections`` and ``rule_precision`` run as the main user.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, text

from classify.labels import SENTIMENTS, TOPICS

Verdict = Literal["useful", "false_alarm"]

INSERT_HEADLINE = text(
    """
    INSERT INTO headline_feedback
        (headline_id, analyst, model_version, shown_topic, shown_sentiment, topic, sentiment,
         comment)
    VALUES (:headline_id, :analyst, :model_version, :shown_topic, :shown_sentiment, :topic,
            :sentiment, :comment)
    """
)
INSERT_ALERT = text(
    """
    INSERT INTO alert_feedback (alert_id, analyst, model_version, verdict, comment)
    VALUES (:alert_id, :analyst, :model_version, :verdict, :comment)
    """
)

# The newest correction of each headline per head wins: an analyst who changes their mind (or
# a second analyst) replaces the earlier label instead of adding a contradictory row.
CORRECTIONS = text(
    """
    SELECT DISTINCT ON (f.headline_id) h.title, f.{head} AS label
    FROM headline_feedback f JOIN headlines h ON h.id = f.headline_id
    WHERE f.{head} IS NOT NULL
    ORDER BY f.headline_id, f.created_at DESC, f.id DESC
    """
)

# Per rule: the verdict of each stored alert (its newest one), over alerts started in range.
VERDICTS = text(
    """
    SELECT a.id, a.rule, a.fingerprint, a.started_at, a.ended_at, v.verdict
    FROM alerts a
    JOIN LATERAL (
        SELECT verdict FROM alert_feedback f WHERE f.alert_id = a.id
        ORDER BY f.created_at DESC, f.id DESC LIMIT 1
    ) v ON true
    WHERE a.fired_at IS NOT NULL AND a.started_at < :until
      AND coalesce(a.ended_at, :until) >= :since
    """
)


def add_headline_correction(conn: Connection, correction: dict[str, Any]) -> None:
    conn.execute(INSERT_HEADLINE, correction)


def add_alert_verdict(conn: Connection, verdict: dict[str, Any]) -> None:
    conn.execute(INSERT_ALERT, verdict)


@dataclass(frozen=True, slots=True)
class Export:
    sources: Path
    rows: dict[str, int]  # head -> corrections written


def export_corrections(engine: Engine, out_dir: Path, *, weight: float = 2.0) -> Export:
    """Write each head's corrections as a CSV (text,label) and a training-sources JSON that
    declares them, for ``tapewatch train --sources``; heads without corrections are left out."""
    out_dir.mkdir(parents=True, exist_ok=True)
    declared, rows = [], {}
    for head, names in (("sentiment", SENTIMENTS), ("topic", TOPICS)):
        ids = {name: i for i, name in enumerate(names)}
        with engine.connect() as conn:
            found = conn.execute(text(CORRECTIONS.text.format(head=head))).all()
        usable = [(title, ids[label]) for title, label in found if label in ids]
        rows[head] = len(usable)
        if not usable:
            continue
        path = (out_dir / f"feedback-{head}.csv").resolve()
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(usable)
        declared.append(
            {
                "name": f"analyst-feedback-{head}",
                "head": head,
                "train": str(path),
                "valid": None,
                "labels": {str(i): name for i, name in enumerate(names)},
                # Few rows, each checked by a person: weighted above the crowd-labelled sets.
                "weight": weight,
                "own_prior": False,
            }
        )
    sources = out_dir / "feedback-sources.json"
    sources.write_text(json.dumps(declared, indent=2) + "\n")
    return Export(sources, rows)


def stored_verdicts(engine: Engine, since: Any, until: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(VERDICTS, {"since": since, "until": until}).all())
