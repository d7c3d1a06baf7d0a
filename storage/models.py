"""Tables. The schema itself changes only through Alembic (``storage/migrations``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base


class Headline(Base):
    """One headline as ingested; ``id`` is ingest's stable hash (see ``ingest``)."""

    __tablename__ = "headlines"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tickers: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{}")
    cluster_id: Mapped[str | None] = mapped_column(String(64))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_headlines_published_at", "published_at"),
        Index("ix_headlines_cluster_id", "cluster_id"),
    )


class Classification(Base):
    """A model's verdict on a headline; at most one per (headline, model version)."""

    __tablename__ = "classifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    headline_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("headlines.id", ondelete="CASCADE")
    )
    model_version: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    topic_confidence: Mapped[float] = mapped_column(Float)
    sentiment: Mapped[str] = mapped_column(String(16))
    sentiment_confidence: Mapped[float] = mapped_column(Float)
    # P(negative) kept as a column: spike detection and the 5-minute view aggregate it.
    negative_probability: Mapped[float] = mapped_column(Float)
    probabilities: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Copied from the headline so that per-topic time-window queries need one index only.
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    classified_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        UniqueConstraint("headline_id", "model_version"),
        Index("ix_classifications_topic_published_at", "topic", "published_at"),
        Index("ix_classifications_published_at", "published_at"),
        Index("ix_classifications_classified_at", "classified_at"),
    )


class FeedState(Base):
    """Per-source polling state: conditional-GET validators and the last outcome."""

    __tablename__ = "feed_state"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    next_poll_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SeenHeadline(Base):
    """Ingest's de-duplication memory: every headline id ever published, surviving restarts.

    ``simhash`` (64-bit SimHash of the normalised title) lets ingest link near-duplicate copies
    of one story across outlets under one ``cluster_id``.
    """

    __tablename__ = "ingest_seen"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    simhash: Mapped[int] = mapped_column(BigInteger)
    cluster_id: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (Index("ix_ingest_seen_first_seen_at", "first_seen_at"),)
