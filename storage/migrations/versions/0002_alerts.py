"""Alerts: alert lifecycle, the webhook notification outbox, delivery attempts, evaluation log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("fired_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("last_evaluated_at", TZ, nullable=False),
        sa.Column("last_notified_at", TZ, nullable=True),
        sa.Column("evidence", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("state IN ('pending', 'firing', 'resolved')", name="ck_alerts_state"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    # One active alert per fingerprint; resolved ones are history and may repeat.
    op.create_index(
        "uq_alerts_active_fingerprint",
        "alerts",
        ["fingerprint"],
        unique=True,
        postgresql_where=sa.text("state IN ('pending', 'firing')"),
    )
    op.create_index("ix_alerts_fingerprint_ended_at", "alerts", ["fingerprint", "ended_at"])
    op.create_index("ix_alerts_started_at", "alerts", ["started_at"])

    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("receiver", sa.String(100), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="ck_alert_notifications_status"
        ),
        sa.CheckConstraint(
            "event IN ('firing', 'repeat', 'resolved')", name="ck_alert_notifications_event"
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            ondelete="CASCADE",
            name="fk_alert_notifications_alert_id_alerts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_notifications"),
        sa.UniqueConstraint("idempotency_key", name="uq_alert_notifications_idempotency_key"),
    )
    # The sender's queue: only undelivered rows, ordered by when they are due.
    op.create_index(
        "ix_alert_notifications_due",
        "alert_notifications",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_alert_notifications_alert_id", "alert_notifications", ["alert_id"])

    op.create_table(
        "alert_delivery_attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", TZ, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('delivered', 'retryable', 'permanent')",
            name="ck_alert_delivery_attempts_outcome",
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["alert_notifications.id"],
            ondelete="CASCADE",
            name="fk_alert_delivery_attempts_notification_id_alert_notifications",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_delivery_attempts"),
    )
    op.create_index(
        "ix_alert_delivery_attempts_notification_id",
        "alert_delivery_attempts",
        ["notification_id"],
    )

    op.create_table(
        "alert_evaluations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("slot_at", TZ, nullable=False),
        sa.Column("evaluator", sa.String(200), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("topics", sa.Integer(), server_default="0", nullable=False),
        sa.Column("breaching", sa.Integer(), server_default="0", nullable=False),
        sa.Column("notifications", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_evaluations"),
        sa.UniqueConstraint("slot_at", name="uq_alert_evaluations_slot_at"),
    )


def downgrade() -> None:
    op.drop_table("alert_evaluations")
    op.drop_table("alert_delivery_attempts")
    op.drop_table("alert_notifications")
    op.drop_table("alerts")
