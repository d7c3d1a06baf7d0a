"""Entities named in headlines: one row per (headline, watchlist entity, model version) with the
sentiment towards that entity, and the read-only views over it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

``v_entity_headlines`` is ``v_headlines`` per entity: each (headline, entity) once, with its
newest verdict. ``v_entity_sentiment_5m`` is ``v_topic_sentiment_5m`` per entity. An entity has
a few headlines an hour, not thousands, so the 5-minute view groups the rows directly instead
of keeping a rollup.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
READONLY_ROLE = "tapewatch_readonly"

V_ENTITY_HEADLINES = """
CREATE VIEW v_entity_headlines AS
SELECT DISTINCT ON (e.headline_id, e.entity_id)
       e.headline_id AS id, e.entity_id, e.entity_name, e.matched_text,
       h.source, h.url, h.title, h.published_at, h.ingested_at, h.tickers, h.cluster_id,
       e.sentiment, e.confidence AS sentiment_confidence, e.negative_probability,
       e.method, e.model_version, e.classified_at
FROM headline_entities e
JOIN headlines h ON h.id = e.headline_id
ORDER BY e.headline_id, e.entity_id, e.classified_at DESC, e.id DESC
"""

V_ENTITY_SENTIMENT_5M = """
CREATE VIEW v_entity_sentiment_5m AS
SELECT date_bin('5 minutes', published_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       entity_id,
       max(entity_name) AS entity_name,
       count(*) AS headlines,
       count(*) FILTER (WHERE sentiment = 'negative') AS negative,
       count(*) FILTER (WHERE sentiment = 'neutral') AS neutral,
       count(*) FILTER (WHERE sentiment = 'positive') AS positive,
       avg(negative_probability) AS mean_negative_probability
FROM v_entity_headlines
GROUP BY 1, 2
"""


def upgrade() -> None:
    op.create_table(
        "headline_entities",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("headline_id", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("entity_name", sa.String(200), nullable=False),
        sa.Column("matched_text", sa.Text(), nullable=False),
        sa.Column("sentiment", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("negative_probability", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("classified_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "sentiment IN ('negative', 'neutral', 'positive')",
            name="ck_headline_entities_sentiment",
        ),
        sa.CheckConstraint(
            "method IN ('headline', 'entity_model')", name="ck_headline_entities_method"
        ),
        sa.ForeignKeyConstraint(
            ["headline_id"],
            ["headlines.id"],
            name="fk_headline_entities_headline_id_headlines",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_headline_entities"),
        sa.UniqueConstraint(
            "headline_id",
            "entity_id",
            "model_version",
            name="uq_headline_entities_headline_id_entity_id_model_version",
        ),
    )
    op.create_index(
        "ix_headline_entities_entity_id", "headline_entities", ["entity_id", "published_at"]
    )
    op.create_index("ix_headline_entities_published_at", "headline_entities", ["published_at"])
    op.execute(V_ENTITY_HEADLINES)
    op.execute(V_ENTITY_SENTIMENT_5M)
    op.execute(f"GRANT SELECT ON v_entity_headlines, v_entity_sentiment_5m TO {READONLY_ROLE}")


def downgrade() -> None:
    op.execute("DROP VIEW v_entity_sentiment_5m")
    op.execute("DROP VIEW v_entity_headlines")
    op.drop_table("headline_entities")
