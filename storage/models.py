"""Tables. The schema itself changes only through Alembic (``storage/migrations``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
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
    # The title's search vector, stored so that searches need not parse titles (migration
    # 0006); computed by PostgreSQL, never written, and not loaded unless asked for.
    title_tsv: Mapped[str | None] = mapped_column(
        TSVECTOR, Computed("to_tsvector('english', title)", persisted=True), deferred=True
    )

    __table_args__ = (
        Index("ix_headlines_published_at", "published_at"),
        Index("ix_headlines_cluster_id", "cluster_id"),
        # The web app's headline search and filters (migrations 0004 and 0006).
        Index("ix_headlines_title_tsv", "title_tsv", postgresql_using="gin"),
        Index("ix_headlines_tickers", "tickers", postgresql_using="gin"),
        Index("ix_headlines_source", "source", "published_at"),
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
        # The Headlines page's topic and sentiment filters (migration 0006).
        Index(
            "ix_classifications_topic_sentiment_published_at", "topic", "sentiment", "published_at"
        ),
        Index("ix_classifications_published_at", "published_at"),
        Index("ix_classifications_classified_at", "classified_at"),
    )


class TopicSentimentRollup(Base):
    """Per grain, bucket and topic: headlines by sentiment, each counted once with its latest
    classification. Kept by a trigger on ``classifications`` (migration 0004) in the writing
    transaction; dashboards read it through ``v_topic_sentiment_5m`` and
    ``v_topic_sentiment_rollup`` instead of grouping every classification per request."""

    __tablename__ = "topic_sentiment_rollup"

    grain_s: Mapped[int] = mapped_column(Integer, primary_key=True)  # 60, 300 or 3600
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    headlines: Mapped[int] = mapped_column(BigInteger, server_default="0")
    negative: Mapped[int] = mapped_column(BigInteger, server_default="0")
    neutral: Mapped[int] = mapped_column(BigInteger, server_default="0")
    positive: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # A sum, not a mean: a re-classification subtracts its old probability exactly.
    sum_negative_probability: Mapped[float] = mapped_column(Float, server_default="0")

    __table_args__ = (
        Index("ix_topic_sentiment_rollup_grain_s", "grain_s", "topic", "bucket"),
        # Charts read a grain's buckets with their counts from the index alone (migration 0006).
        Index(
            "ix_topic_sentiment_rollup_covering",
            "grain_s",
            "bucket",
            postgresql_include=["topic", "headlines", "negative"],
        ),
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


# --- alerts (migration 0002) -----------------------------------------------------------------


class Alert(Base):
    """One alert's lifecycle: pending -> firing -> resolved, with the evidence behind it.

    At most one *active* (pending or firing) alert per fingerprint (topic + rule).
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Current vs baseline rate, test statistics, counts, representative headlines.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("state IN ('pending', 'firing', 'resolved')", name="state"),
        Index(
            "uq_alerts_active_fingerprint",
            "fingerprint",
            unique=True,
            postgresql_where=text("state IN ('pending', 'firing')"),
        ),
        Index("ix_alerts_fingerprint_ended_at", "fingerprint", "ended_at"),
        Index("ix_alerts_started_at", "started_at"),
    )


class AlertNotification(Base):
    """The webhook outbox: one row per (alert transition, receiver), written in the same
    transaction as the transition and delivered afterwards, retrying until accepted."""

    __tablename__ = "alert_notifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("alerts.id", ondelete="CASCADE"))
    # Sent as the Idempotency-Key header: receivers drop a notification they already have.
    idempotency_key: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    receiver: Mapped[str] = mapped_column(String(100))
    format: Mapped[str] = mapped_column(String(16))
    # The exact body POSTed on every attempt (the signature's timestamp is per attempt).
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        CheckConstraint("event IN ('firing', 'repeat', 'resolved')", name="event"),
        Index(
            "ix_alert_notifications_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_alert_notifications_alert_id", "alert_id"),
    )


class AlertDeliveryAttempt(Base):
    """Every webhook request made, successful or not, with what the receiver answered."""

    __tablename__ = "alert_delivery_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("alert_notifications.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        CheckConstraint("outcome IN ('delivered', 'retryable', 'permanent')", name="outcome"),
        Index("ix_alert_delivery_attempts_notification_id", "notification_id"),
    )


class AlertEvaluation(Base):
    """One row per evaluation interval: the unique ``slot_at`` makes it one evaluation per
    interval however many alert processes run."""

    __tablename__ = "alert_evaluations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    slot_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    evaluator: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    topics: Mapped[int] = mapped_column(Integer, server_default="0")
    breaching: Mapped[int] = mapped_column(Integer, server_default="0")
    notifications: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (UniqueConstraint("slot_at"),)


# --- model lifecycle and analyst feedback (migration 0005) -----------------------------------


class ModelVersion(Base):
    """A model that classified (or may classify) headlines, by its content hash. Exactly one is
    active: dashboards and alerts read its classifications (``storage/model_versions.py``)."""

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # From the model directory's training record: base model, recipe, data (the card's facts).
    card: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # Validation metrics recorded beside the weights (eval-valid.json), per head.
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    loaded_from: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, server_default="false")

    __table_args__ = (
        Index("uq_model_versions_active", "active", unique=True, postgresql_where=text("active")),
    )


class ModelActivation(Base):
    """The audit of every switch of the active version (rolling back is one more switch)."""

    __tablename__ = "model_activations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64), ForeignKey("model_versions.version"))
    previous_version: Mapped[str | None] = mapped_column(String(64))
    activated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    activated_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    rollup_rebuild_ms: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_model_activations_activated_at", "activated_at"),)


class HeadlineFeedback(Base):
    """An analyst's correction of a headline's topic and/or sentiment, with what was shown."""

    __tablename__ = "headline_feedback"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    headline_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("headlines.id", ondelete="CASCADE")
    )
    analyst: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    model_version: Mapped[str | None] = mapped_column(String(64))
    shown_topic: Mapped[str | None] = mapped_column(String(64))
    shown_sentiment: Mapped[str | None] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(64))
    sentiment: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("topic IS NOT NULL OR sentiment IS NOT NULL", name="correction"),
        CheckConstraint(
            "sentiment IS NULL OR sentiment IN ('negative', 'neutral', 'positive')",
            name="sentiment",
        ),
        Index("ix_headline_feedback_headline_id", "headline_id"),
        Index("ix_headline_feedback_created_at", "created_at"),
    )


class AlertFeedback(Base):
    """An analyst's verdict on an alert: useful or a false alarm, with an optional comment."""

    __tablename__ = "alert_feedback"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("alerts.id", ondelete="CASCADE"))
    analyst: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    model_version: Mapped[str | None] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("verdict IN ('useful', 'false_alarm')", name="verdict"),
        Index("ix_alert_feedback_alert_id", "alert_id"),
    )


# --- entities named in headlines (migration 0007) --------------------------------------------


class HeadlineEntity(Base):
    """A watchlist entity a headline names, with the sentiment towards it; at most one per
    (headline, entity, model version) in each classification pass. ``method`` says where the
    verdict came from: the headline's own sentiment (a headline naming one entity) or the
    entity model. ``headline_model_version`` is the headline model of the pass that wrote the
    row: the views count the active version's pass first (migration 0008)."""

    __tablename__ = "headline_entities"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    headline_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("headlines.id", ondelete="CASCADE")
    )
    entity_id: Mapped[str] = mapped_column(String(64))
    # The watchlist's display name when matched: the database alone can label a chart.
    entity_name: Mapped[str] = mapped_column(String(200))
    # Its watchlist tickers when matched (migration 0008): an alert's webhook names them.
    entity_tickers: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{}")
    matched_text: Mapped[str] = mapped_column(Text)
    sentiment: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    negative_probability: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    headline_model_version: Mapped[str] = mapped_column(String(64))
    # Copied from the headline, as in classifications: per-entity windows need one index.
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    classified_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        UniqueConstraint(
            "headline_id",
            "entity_id",
            "model_version",
            "headline_model_version",
            name="uq_headline_entities_pass",  # the convention's name is over 63 characters
        ),
        CheckConstraint("sentiment IN ('negative', 'neutral', 'positive')", name="sentiment"),
        CheckConstraint("method IN ('headline', 'entity_model')", name="method"),
        Index("ix_headline_entities_entity_id", "entity_id", "published_at"),
        Index("ix_headline_entities_published_at", "published_at"),
    )
