"""Bulk, idempotent writes and the reads the services need.

Writes are ``INSERT ... ON CONFLICT DO NOTHING`` over many rows at once (SQLAlchemy's
multi-row "insertmanyvalues" path): replaying a batch after a crash adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from storage.models import Classification, Headline
from tapewatch import events


@dataclass(frozen=True, slots=True)
class StoreResult:
    headlines_inserted: int
    classifications_inserted: int


def _headline_row(h: events.Headline) -> dict[str, object]:
    return {
        "id": h.id,
        "source": h.source,
        "url": h.url,
        "title": h.title,
        "published_at": h.published_at,
        "ingested_at": h.ingested_at,
        "tickers": list(h.tickers),
        "cluster_id": h.cluster_id,
    }


def _classification_row(c: events.ClassifiedHeadline) -> dict[str, object]:
    return {
        "headline_id": c.headline_id,
        "model_version": c.model_version,
        "topic": c.topic,
        "topic_confidence": c.topic_confidence,
        "sentiment": c.sentiment,
        "sentiment_confidence": c.sentiment_confidence,
        "negative_probability": c.probabilities.get("sentiment", {}).get("negative", 0.0),
        "probabilities": c.probabilities,
        "published_at": c.published_at,
        "classified_at": c.classified_at,
    }


def store_classified(
    session: Session,
    headlines: Sequence[events.Headline],
    results: Sequence[events.ClassifiedHeadline],
) -> StoreResult:
    """Write headlines and their classifications in the caller's transaction, idempotently."""
    inserted_h = inserted_c = 0
    if headlines:
        # Duplicates inside one batch (a re-delivered message) would trip ON CONFLICT twice.
        unique = {h.id: h for h in headlines}
        stmt = insert(Headline).on_conflict_do_nothing(index_elements=["id"]).returning(Headline.id)
        inserted_h = len(session.execute(stmt, [_headline_row(h) for h in unique.values()]).all())
    if results:
        unique_c = {(c.headline_id, c.model_version): c for c in results}
        stmt_c = (
            insert(Classification)
            .on_conflict_do_nothing(index_elements=["headline_id", "model_version"])
            .returning(Classification.id)
        )
        rows = [_classification_row(c) for c in unique_c.values()]
        inserted_c = len(session.execute(stmt_c, rows).all())
    return StoreResult(inserted_h, inserted_c)


def count_classifications(session: Session, model_version: str | None = None) -> int:
    stmt = select(func.count()).select_from(Classification)
    if model_version is not None:
        stmt = stmt.where(Classification.model_version == model_version)
    return int(session.execute(stmt).scalar_one())
