"""Writes of the entities named in headlines: bulk and idempotent, like ``store_classified``.

Called in the classify stage's batch transaction, after the headlines (the rows reference
them), so a batch's classifications and its entity verdicts commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from storage.models import HeadlineEntity

# One row per (headline, entity, verdict's model) in each pass (migration 0008's unique key).
KEY = ("headline_id", "entity_id", "model_version", "headline_model_version")


@dataclass(frozen=True, slots=True)
class EntityRow:
    """One (headline, entity) verdict as stored in ``headline_entities``."""

    headline_id: str
    entity_id: str
    entity_name: str
    matched_text: str
    sentiment: str
    confidence: float
    negative_probability: float
    model_version: str
    method: str  # "headline" (the headline's own sentiment) or "entity_model"
    published_at: datetime
    classified_at: datetime
    # The headline model of the pass that wrote the row (migration 0008); None: the row's own
    # version, which is right for a headline-method row.
    headline_model_version: str | None = None
    entity_tickers: tuple[str, ...] = ()  # the watchlist's, when matched


def store_entities(session: Session, rows: Sequence[EntityRow]) -> int:
    """Insert the rows not stored yet (a replayed batch adds nothing); returns how many were."""
    if not rows:
        return 0
    values = [asdict(r) for r in rows]
    for v in values:
        v["headline_model_version"] = v["headline_model_version"] or v["model_version"]
        v["entity_tickers"] = list(v["entity_tickers"])
    # A re-delivered message inside one batch would trip ON CONFLICT twice in one statement.
    unique = {tuple(v[k] for k in KEY): v for v in values}
    stmt = (
        insert(HeadlineEntity)
        .on_conflict_do_nothing(index_elements=list(KEY))
        .returning(HeadlineEntity.id)
    )
    return len(session.execute(stmt, list(unique.values())).all())
