"""Entity rows follow the active model version, as the topic views do (0005), and carry the
entity's tickers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

An entity row's ``model_version`` is the model that gave the verdict: the headline model for a
headline naming one entity, the entity model (``ent-…``, never registered or activated) for a
headline naming several. Neither says which classification pass produced the row, and a shadow
worker runs the same entity model. So each row now also records the headline model version of
the pass it rode in (``headline_model_version``), and that is what the rule keys on: per
(headline, entity), the row of the active version's pass counts; only where the active version
has not classified the headline, the newest row (0007's rule). A shadow or re-read version's
entity rows therefore change nothing the views show until that version is activated.

Each pass keeps its own rows: the unique key gains the column, so a shadow pass's entity-model
verdict no longer collides with (and, arriving first, pre-empts) the active pass's.

Existing rows are backfilled: a headline-method row's own version; an entity-model row's, the
classification of its headline written in the same pass (the stage copies the classification's
``classified_at`` into the entity rows), else the headline's counted classification.

``entity_tickers``: the watchlist's tickers of the entity when matched, copied like its display
name (0007), so an entity alert's webhook can name them without the alerts worker reading the
watchlist. Rows written before 0008 have none.

``DISTINCT ON`` also names ``published_at`` (the entity row's copy of the headline's, which the
view now shows), so a ``published_at`` bound on ``v_entity_headlines`` is applied through
``ix_headline_entities_published_at`` before the per-entity ranking instead of after ranking
every row: PostgreSQL pushes a condition into ``DISTINCT ON`` only on its own columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD_UNIQUE = "uq_headline_entities_headline_id_entity_id_model_version"
NEW_UNIQUE = "uq_headline_entities_pass"

# The rule of 0005's RANK, on the pass's headline version. IS TRUE: with no active version
# every row ranks alike and the newest wins.
RANK = (
    "(e.headline_model_version = (SELECT version FROM model_versions WHERE active)) IS TRUE "
    "DESC, e.classified_at DESC, e.id DESC"
)

V_ENTITY_HEADLINES = f"""
CREATE OR REPLACE VIEW v_entity_headlines AS
SELECT DISTINCT ON (e.headline_id, e.entity_id, e.published_at)
       e.headline_id AS id, e.entity_id, e.entity_name, e.matched_text,
       h.source, h.url, h.title, e.published_at, h.ingested_at, h.tickers, h.cluster_id,
       e.sentiment, e.confidence AS sentiment_confidence, e.negative_probability,
       e.method, e.model_version, e.classified_at
FROM headline_entities e
JOIN headlines h ON h.id = e.headline_id
ORDER BY e.headline_id, e.entity_id, e.published_at, {RANK}
"""

# 0007's definition, restored by the downgrade (v_entity_sentiment_5m reads this view and is
# the same text in both revisions, so it follows without being redefined).
V_ENTITY_HEADLINES_OLD = """
CREATE OR REPLACE VIEW v_entity_headlines AS
SELECT DISTINCT ON (e.headline_id, e.entity_id)
       e.headline_id AS id, e.entity_id, e.entity_name, e.matched_text,
       h.source, h.url, h.title, h.published_at, h.ingested_at, h.tickers, h.cluster_id,
       e.sentiment, e.confidence AS sentiment_confidence, e.negative_probability,
       e.method, e.model_version, e.classified_at
FROM headline_entities e
JOIN headlines h ON h.id = e.headline_id
ORDER BY e.headline_id, e.entity_id, e.classified_at DESC, e.id DESC
"""

BACKFILL = """
UPDATE headline_entities e SET headline_model_version = CASE
    WHEN e.method = 'headline' THEN e.model_version
    ELSE coalesce(
        (SELECT c.model_version FROM classifications c
         WHERE c.headline_id = e.headline_id AND c.classified_at = e.classified_at
         ORDER BY c.id DESC LIMIT 1),
        (SELECT v.model_version FROM v_headlines v WHERE v.id = e.headline_id),
        e.model_version)
END
"""

# The old key allows one row per (headline, entity, model version): keep the newest.
DEDUPE_OLD_KEY = """
DELETE FROM headline_entities e
USING headline_entities d
WHERE d.headline_id = e.headline_id AND d.entity_id = e.entity_id
  AND d.model_version = e.model_version
  AND (d.classified_at, d.id) > (e.classified_at, e.id)
"""


def upgrade() -> None:
    op.add_column(
        "headline_entities", sa.Column("headline_model_version", sa.String(64), nullable=True)
    )
    op.add_column(
        "headline_entities",
        sa.Column(
            "entity_tickers",
            postgresql.ARRAY(sa.String(16)),
            server_default="{}",
            nullable=False,
        ),
    )
    op.execute(BACKFILL)
    op.alter_column("headline_entities", "headline_model_version", nullable=False)
    op.drop_constraint(OLD_UNIQUE, "headline_entities", type_="unique")
    op.create_unique_constraint(
        NEW_UNIQUE,
        "headline_entities",
        ["headline_id", "entity_id", "model_version", "headline_model_version"],
    )
    # Same columns, so the views keep their grants; v_entity_sentiment_5m reads this one.
    op.execute(V_ENTITY_HEADLINES)


def downgrade() -> None:
    op.execute(V_ENTITY_HEADLINES_OLD)
    op.execute(DEDUPE_OLD_KEY)
    op.drop_constraint(NEW_UNIQUE, "headline_entities", type_="unique")
    op.create_unique_constraint(
        OLD_UNIQUE, "headline_entities", ["headline_id", "entity_id", "model_version"]
    )
    op.drop_column("headline_entities", "headline_model_version")
    op.drop_column("headline_entities", "entity_tickers")
