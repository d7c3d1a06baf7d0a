"""Initial schema: headlines, classifications, feed state, ingest seen-set, views, read-only role.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

# The dashboard contract. Later migrations that touch these tables must recreate the views
# with the same columns (tests/test_storage.py pins them).
V_HEADLINES = """
CREATE VIEW v_headlines AS
SELECT h.id, h.source, h.url, h.title, h.published_at, h.ingested_at, h.tickers, h.cluster_id,
       c.topic, c.topic_confidence, c.sentiment, c.sentiment_confidence,
       c.negative_probability, c.probabilities, c.model_version, c.classified_at
FROM headlines h
LEFT JOIN LATERAL (
    SELECT * FROM classifications c
    WHERE c.headline_id = h.id
    ORDER BY c.classified_at DESC, c.id DESC
    LIMIT 1
) c ON true
"""

V_TOPIC_SENTIMENT_5M = """
CREATE VIEW v_topic_sentiment_5m AS
SELECT date_bin('5 minutes', published_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       topic,
       count(*) AS headlines,
       count(*) FILTER (WHERE sentiment = 'negative') AS negative,
       count(*) FILTER (WHERE sentiment = 'neutral') AS neutral,
       count(*) FILTER (WHERE sentiment = 'positive') AS positive,
       avg(negative_probability) AS mean_negative_probability
FROM v_headlines
WHERE topic IS NOT NULL
GROUP BY 1, 2
"""

READONLY_ROLE = "tapewatch_readonly"


def upgrade() -> None:
    op.create_table(
        "headlines",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("ingested_at", TZ, nullable=False),
        sa.Column("tickers", postgresql.ARRAY(sa.String(16)), server_default="{}", nullable=False),
        sa.Column("cluster_id", sa.String(64), nullable=True),
        sa.Column("stored_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_headlines"),
    )
    op.create_index("ix_headlines_published_at", "headlines", ["published_at"])
    op.create_index("ix_headlines_cluster_id", "headlines", ["cluster_id"])

    op.create_table(
        "classifications",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("headline_id", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("topic_confidence", sa.Float(), nullable=False),
        sa.Column("sentiment", sa.String(16), nullable=False),
        sa.Column("sentiment_confidence", sa.Float(), nullable=False),
        sa.Column("negative_probability", sa.Float(), nullable=False),
        sa.Column("probabilities", postgresql.JSONB(), nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("classified_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["headline_id"],
            ["headlines.id"],
            ondelete="CASCADE",
            name="fk_classifications_headline_id_headlines",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_classifications"),
        sa.UniqueConstraint(
            "headline_id", "model_version", name="uq_classifications_headline_id_model_version"
        ),
    )
    op.create_index(
        "ix_classifications_topic_published_at", "classifications", ["topic", "published_at"]
    )
    op.create_index("ix_classifications_published_at", "classifications", ["published_at"])
    op.create_index("ix_classifications_classified_at", "classifications", ["classified_at"])

    op.create_table(
        "feed_state",
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("last_polled_at", TZ, nullable=True),
        sa.Column("last_status", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_success_at", TZ, nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_poll_after", TZ, nullable=True),
        sa.PrimaryKeyConstraint("source", name="pk_feed_state"),
    )

    op.create_table(
        "ingest_seen",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("simhash", sa.BigInteger(), nullable=False),
        sa.Column("cluster_id", sa.String(64), nullable=False),
        sa.Column("first_seen_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_seen"),
    )
    op.create_index("ix_ingest_seen_first_seen_at", "ingest_seen", ["first_seen_at"])

    op.execute(V_HEADLINES)
    op.execute(V_TOPIC_SENTIMENT_5M)
    # Roles are cluster-wide: create once, never fail if another database already made it.
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READONLY_ROLE}') THEN
                CREATE ROLE {READONLY_ROLE} NOLOGIN;
            END IF;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {READONLY_ROLE}")
    op.execute(f"GRANT SELECT ON v_headlines, v_topic_sentiment_5m TO {READONLY_ROLE}")


def downgrade() -> None:
    # The role stays (it is cluster-wide and may serve other databases); its grants here go.
    op.execute(f"REVOKE ALL ON SCHEMA public FROM {READONLY_ROLE}")
    op.execute("DROP VIEW IF EXISTS v_topic_sentiment_5m")
    op.execute("DROP VIEW IF EXISTS v_headlines")
    op.drop_table("ingest_seen")
    op.drop_table("feed_state")
    op.drop_table("classifications")
    op.drop_table("headlines")
