"""Registered model versions and the one active version: what dashboards and alerts read.

A version is the content hash of a model directory (``classify.model.model_version``). Every
process that classifies registers its version on start (``register``); the first version ever
registered by a live worker becomes active. After that only ``activate`` switches, in one
transaction that (1) locks ``classifications`` against inserts (SHARE: readers go on, writers
wait), (2) moves the active flag, (3) rebuilds the per-topic rollup under the new version, and
(4) records the switch in ``model_activations``. Readers see the old version or the new one,
never a mix. Rolling back is activating the previous version again.
"""

from __future__ import annotations

import getpass
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from storage.db import session_scope
from storage.models import ModelActivation, ModelVersion

log = logging.getLogger(__name__)

# Activation and registration of the first active version serialise on this lock ("tapemodl").
ACTIVATION_LOCK_KEY = 0x746170656D6F646C

ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
# The rollup from scratch under the active version (v_headlines applies the counting rule).
REBUILD_ROLLUP = f"""
INSERT INTO topic_sentiment_rollup
    (grain_s, bucket, topic, headlines, negative, neutral, positive, sum_negative_probability)
SELECT g.grain_s,
       date_bin(make_interval(secs => g.grain_s), v.published_at, {ORIGIN}),
       v.topic,
       count(*),
       count(*) FILTER (WHERE v.sentiment = 'negative'),
       count(*) FILTER (WHERE v.sentiment = 'neutral'),
       count(*) FILTER (WHERE v.sentiment = 'positive'),
       sum(v.negative_probability)
FROM v_headlines v
CROSS JOIN (VALUES (60), (300), (3600)) AS g (grain_s)
WHERE v.topic IS NOT NULL
GROUP BY 1, 2, 3
"""


class ModelVersionError(LookupError):
    """A version that is not registered, or an activation that cannot be done."""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    name: str | None
    loaded_from: str | None
    metrics: dict[str, Any]
    registered_at: datetime
    activated_at: datetime | None
    active: bool
    classifications: int = 0


@dataclass(frozen=True, slots=True)
class Activation:
    version: str
    previous: str | None
    rebuild_ms: float


def describe(directory: Path) -> dict[str, Any]:
    """What a model directory says about itself: name, card facts, validation metrics.

    Read from its training record and evaluation files when present; a directory without them
    (a test model, an imported one) registers with its hash alone.
    """
    facts: dict[str, Any] = {"name": directory.name, "card": {}, "metrics": {}}
    training = _json(directory / "training.json")
    if training:
        facts["card"] = {
            key: training[key]
            for key in ("base_model", "hyperparameters", "best_epoch", "steps", "teachers")
            if key in training
        }
    evaluation = _json(directory / "eval-valid.json")
    for head in ("topic", "sentiment"):
        scores = evaluation.get(head) if evaluation else None
        if isinstance(scores, dict):
            facts["metrics"][head] = {
                k: scores[k] for k in ("n", "accuracy", "macro_f1", "ece") if k in scores
            }
    return facts


def _json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def register(
    engine: Engine, version: str, directory: Path | None, *, activate_if_none: bool
) -> bool:
    """Record ``version`` (idempotent; refreshes where it was loaded from). With
    ``activate_if_none`` it becomes active when no version is. Returns whether it is active."""
    facts = describe(directory) if directory is not None else {"card": {}, "metrics": {}}
    values = {
        "version": version,
        "name": facts.get("name"),
        "card": facts["card"],
        "metrics": facts["metrics"],
        "loaded_from": str(directory.resolve()) if directory is not None else None,
    }
    with session_scope(engine) as session:
        session.execute(
            insert(ModelVersion)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["version"],
                set_={
                    "loaded_from": values["loaded_from"],
                    "name": values["name"],
                    "card": values["card"],
                    "metrics": values["metrics"],
                    "last_seen_at": text("now()"),
                },
            )
        )
        active = active_version(session)
        if active is None and activate_if_none:
            _activate_in(session, version, reason="first version registered by a live worker")
            return True
        return active == version


def active_version(session: Session) -> str | None:
    return session.execute(
        select(ModelVersion.version).where(ModelVersion.active)
    ).scalar_one_or_none()


def resolve(session: Session, prefix: str) -> str:
    """The registered version that ``prefix`` names (a unique prefix is enough)."""
    matches = (
        session.execute(select(ModelVersion.version).where(ModelVersion.version.startswith(prefix)))
        .scalars()
        .all()
    )
    if len(matches) != 1:
        raise ModelVersionError(
            f"no registered version {prefix!r}"
            if not matches
            else f"{prefix!r} is ambiguous: {', '.join(sorted(matches))}"
        )
    return matches[0]


def activate(engine: Engine, version: str, *, reason: str | None = None) -> Activation:
    """Make ``version`` (or a unique prefix of it) the active one, atomically."""
    with session_scope(engine) as session:
        return _activate_in(session, resolve(session, version), reason=reason)


def _activate_in(session: Session, version: str, *, reason: str | None) -> Activation:
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ACTIVATION_LOCK_KEY})
    # Inserts wait until the rollup is rebuilt; each then counts under the new version (the
    # trigger reads the active version in its own statement, after this commits).
    session.execute(text("LOCK TABLE classifications IN SHARE MODE"))
    previous = active_version(session)
    session.execute(update(ModelVersion).where(ModelVersion.active).values(active=False))
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.version == version)
        .values(active=True, activated_at=text("now()"))
    )
    started = time.perf_counter()
    session.execute(text("DELETE FROM topic_sentiment_rollup"))
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    session.execute(text(REBUILD_ROLLUP))
    rebuild_ms = (time.perf_counter() - started) * 1000
    session.add(
        ModelActivation(
            version=version,
            previous_version=previous,
            activated_by=_who(),
            reason=reason,
            rollup_rebuild_ms=rebuild_ms,
        )
    )
    log.info("model %s active (was %s); rollup rebuilt in %.0f ms", version, previous, rebuild_ms)
    return Activation(version, previous, rebuild_ms)


def previous_version(engine: Engine) -> str:
    """The version active before the current one: what a rollback activates."""
    with session_scope(engine) as session:
        row = session.execute(
            select(ModelActivation.previous_version)
            .order_by(ModelActivation.activated_at.desc(), ModelActivation.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    if row is None:
        raise ModelVersionError("no earlier active version to roll back to")
    return row


def list_versions(engine: Engine) -> list[VersionInfo]:
    """Every registered version with its number of stored classifications, newest first."""
    query = text(
        """
        SELECT m.version, m.name, m.loaded_from, m.metrics, m.registered_at, m.activated_at,
               m.active, coalesce(c.n, 0) AS classifications
        FROM model_versions m
        LEFT JOIN (
            SELECT model_version, count(*) AS n FROM classifications GROUP BY model_version
        ) c ON c.model_version = m.version
        ORDER BY m.active DESC, m.registered_at DESC
        """
    )
    with session_scope(engine) as session:
        return [VersionInfo(**row._asdict()) for row in session.execute(query)]


def activations(engine: Engine, limit: int = 20) -> list[ModelActivation]:
    with Session(engine) as session:
        rows = session.scalars(
            select(ModelActivation)
            .order_by(ModelActivation.activated_at.desc(), ModelActivation.id.desc())
            .limit(limit)
        ).all()
        session.expunge_all()
        return list(rows)


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "unknown"
