"""Model lifecycle: registered model versions with exactly one active, an audit of every
switch, the active version's classifications in the views, the rollup and the alert windows,
and analyst feedback tables with an insert-only role.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Which classification of a headline counts: the active version's, and only where the active
version has not classified that headline, the newest one (the rule of 0001). With no active
version (a database that never registered one) that is the newest one, as before. A shadow or
re-classifying model therefore never changes what dashboards and alerts read for headlines the
active model has judged.

The rollup trigger applies the same rule: an insert changes a headline's counted
classification only when the new row outranks the one counted so far. Activating another
version rebuilds the rollup in the activating transaction (``storage/model_versions.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
READONLY_ROLE = "tapewatch_readonly"
# A group that can insert analyst feedback and do nothing else (no SELECT, not even on the
# feedback tables), and a login role in it for the dashboard's feedback endpoints. Like the
# read-only login it has no password until `tapewatch db upgrade` sets one from the settings.
FEEDBACK_ROLE = "tapewatch_feedback"
FEEDBACK_LOGIN = "tapewatch_web_feedback"
ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
GRAINS = "(60), (300), (3600)"

# Ranks a headline's classifications: the active version first, then the newest. IS TRUE so
# that no active version (NULL) ranks every row alike and the newest wins.
RANK = (
    "(c.model_version = (SELECT version FROM model_versions WHERE active)) IS TRUE DESC, "
    "c.classified_at DESC, c.id DESC"
)

V_HEADLINES = f"""
CREATE OR REPLACE VIEW v_headlines AS
SELECT h.id, h.source, h.url, h.title, h.published_at, h.ingested_at, h.tickers, h.cluster_id,
       c.topic, c.topic_confidence, c.sentiment, c.sentiment_confidence,
       c.negative_probability, c.probabilities, c.model_version, c.classified_at
FROM headlines h
LEFT JOIN LATERAL (
    SELECT * FROM classifications c
    WHERE c.headline_id = h.id
    ORDER BY {RANK}
    LIMIT 1
) c ON true
"""

V_HEADLINES_OLD = """
CREATE OR REPLACE VIEW v_headlines AS
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

# Per touched headline: the classification counted before this statement (its new rows left
# out) and after it. Where they differ, the old one is subtracted and the new one added. The
# active version is read inside the statement, and activation holds a SHARE lock on
# classifications while it rebuilds, so an insert never counts under a version that is no
# longer active. Groups are upserted in key order (no deadlock between two batches).
ROLLUP_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tapewatch_rollup_classifications() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH touched AS (
        SELECT DISTINCT headline_id FROM new_rows
    ),
    after AS (
        SELECT DISTINCT ON (c.headline_id) c.id, c.headline_id, c.topic, c.sentiment,
               c.negative_probability, c.published_at
        FROM classifications c
        JOIN touched t ON t.headline_id = c.headline_id
        ORDER BY c.headline_id, {RANK}
    ),
    before AS (
        SELECT DISTINCT ON (c.headline_id) c.id, c.headline_id, c.topic, c.sentiment,
               c.negative_probability, c.published_at
        FROM classifications c
        JOIN touched t ON t.headline_id = c.headline_id
        WHERE NOT EXISTS (SELECT 1 FROM new_rows r WHERE r.id = c.id)
        ORDER BY c.headline_id, {RANK}
    ),
    delta AS (
        SELECT a.topic, a.sentiment, a.negative_probability, a.published_at, 1 AS sign
        FROM after a
        LEFT JOIN before b ON b.headline_id = a.headline_id
        WHERE b.id IS DISTINCT FROM a.id
        UNION ALL
        SELECT b.topic, b.sentiment, b.negative_probability, b.published_at, -1
        FROM before b
        JOIN after a ON a.headline_id = b.headline_id
        WHERE b.id <> a.id
    )
    INSERT INTO topic_sentiment_rollup AS r
        (grain_s, bucket, topic, headlines, negative, neutral, positive,
         sum_negative_probability)
    SELECT g.grain_s,
           date_bin(make_interval(secs => g.grain_s), d.published_at, {ORIGIN}),
           d.topic,
           sum(d.sign),
           coalesce(sum(d.sign) FILTER (WHERE d.sentiment = 'negative'), 0),
           coalesce(sum(d.sign) FILTER (WHERE d.sentiment = 'neutral'), 0),
           coalesce(sum(d.sign) FILTER (WHERE d.sentiment = 'positive'), 0),
           sum(d.sign * d.negative_probability)
    FROM delta d
    CROSS JOIN (VALUES {GRAINS}) AS g (grain_s)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (grain_s, bucket, topic) DO UPDATE SET
        headlines = r.headlines + excluded.headlines,
        negative = r.negative + excluded.negative,
        neutral = r.neutral + excluded.neutral,
        positive = r.positive + excluded.positive,
        sum_negative_probability = r.sum_negative_probability + excluded.sum_negative_probability;
    RETURN NULL;
END
$$
"""

# 0004's function, restored by the downgrade.
ROLLUP_FUNCTION_OLD = f"""
CREATE OR REPLACE FUNCTION tapewatch_rollup_classifications() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH new_latest AS (
        SELECT DISTINCT ON (headline_id) id, headline_id, topic, sentiment,
               negative_probability, published_at, classified_at
        FROM new_rows
        ORDER BY headline_id, classified_at DESC, id DESC
    ),
    previous AS (
        SELECT DISTINCT ON (c.headline_id) c.id, c.headline_id, c.topic, c.sentiment,
               c.negative_probability, c.published_at, c.classified_at
        FROM classifications c
        JOIN new_latest n ON n.headline_id = c.headline_id
        WHERE NOT EXISTS (SELECT 1 FROM new_rows r WHERE r.id = c.id)
        ORDER BY c.headline_id, c.classified_at DESC, c.id DESC
    ),
    delta AS (
        SELECT n.topic, n.sentiment, n.negative_probability, n.published_at, 1 AS sign
        FROM new_latest n
        LEFT JOIN previous p ON p.headline_id = n.headline_id
        WHERE p.id IS NULL OR (n.classified_at, n.id) > (p.classified_at, p.id)
        UNION ALL
        SELECT p.topic, p.sentiment, p.negative_probability, p.published_at, -1
        FROM previous p
        JOIN new_latest n ON n.headline_id = p.headline_id
        WHERE (n.classified_at, n.id) > (p.classified_at, p.id)
    )
    INSERT INTO topic_sentiment_rollup AS r
        (grain_s, bucket, topic, headlines, negative, neutral, positive,
         sum_negative_probability)
    SELECT g.grain_s,
           date_bin(make_interval(secs => g.grain_s), d.published_at, {ORIGIN}),
           d.topic,
           sum(d.sign),
           coalesce(sum(d.sign) FILTER (WHERE d.sentiment = 'negative'), 0),
           coalesce(sum(d.sign) FILTER (WHERE d.sentiment = 'neutral'), 0),
           coalesce(sum(d.sign) FILTER (WHERE d.sentiment = 'positive'), 0),
           sum(d.sign * d.negative_probability)
    FROM delta d
    CROSS JOIN (VALUES {GRAINS}) AS g (grain_s)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (grain_s, bucket, topic) DO UPDATE SET
        headlines = r.headlines + excluded.headlines,
        negative = r.negative + excluded.negative,
        neutral = r.neutral + excluded.neutral,
        positive = r.positive + excluded.positive,
        sum_negative_probability = r.sum_negative_probability + excluded.sum_negative_probability;
    RETURN NULL;
END
$$
"""

REBUILD = f"""
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
CROSS JOIN (VALUES {GRAINS}) AS g (grain_s)
WHERE v.topic IS NOT NULL
GROUP BY 1, 2, 3
"""

# Versions already in the history become registered ones (nothing known but the hash); the one
# that wrote last becomes active, so the views read what they read before the upgrade for every
# headline that version judged.
BACKFILL_VERSIONS = """
INSERT INTO model_versions (version, registered_at, last_seen_at)
SELECT model_version, min(classified_at), max(classified_at)
FROM classifications GROUP BY model_version
"""
ACTIVATE_NEWEST = """
WITH newest AS (
    SELECT model_version FROM classifications ORDER BY classified_at DESC, id DESC LIMIT 1
)
UPDATE model_versions SET active = true, activated_at = now()
WHERE version = (SELECT model_version FROM newest)
"""
AUDIT_NEWEST = """
INSERT INTO model_activations (version, previous_version, activated_at, activated_by, reason)
SELECT version, NULL, now(), current_user, 'migration 0005: the version that wrote last'
FROM model_versions WHERE active
"""

# What the dashboard may show of the versions: which is active and since when.
V_MODEL_VERSIONS = """
CREATE VIEW v_model_versions AS
SELECT version, name, loaded_from, metrics, registered_at, activated_at, active
FROM model_versions
"""


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("card", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("metrics", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("loaded_from", sa.Text(), nullable=True),
        sa.Column("registered_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("last_seen_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("activated_at", TZ, nullable=True),
        sa.Column("active", sa.Boolean(), server_default="false", nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_model_versions"),
    )
    op.create_index(
        "uq_model_versions_active",
        "model_versions",
        ["active"],
        unique=True,
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "model_activations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("previous_version", sa.String(64), nullable=True),
        sa.Column("activated_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("activated_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rollup_rebuild_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version"],
            ["model_versions.version"],
            name="fk_model_activations_version_model_versions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_model_activations"),
    )
    op.create_index("ix_model_activations_activated_at", "model_activations", ["activated_at"])
    op.create_table(
        "headline_feedback",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("headline_id", sa.String(64), nullable=False),
        sa.Column("analyst", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("shown_topic", sa.String(64), nullable=True),
        sa.Column("shown_sentiment", sa.String(16), nullable=True),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("sentiment", sa.String(16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "topic IS NOT NULL OR sentiment IS NOT NULL", name="ck_headline_feedback_correction"
        ),
        sa.CheckConstraint(
            "sentiment IS NULL OR sentiment IN ('negative', 'neutral', 'positive')",
            name="ck_headline_feedback_sentiment",
        ),
        sa.ForeignKeyConstraint(
            ["headline_id"],
            ["headlines.id"],
            name="fk_headline_feedback_headline_id_headlines",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_headline_feedback"),
    )
    op.create_index("ix_headline_feedback_headline_id", "headline_feedback", ["headline_id"])
    op.create_index("ix_headline_feedback_created_at", "headline_feedback", ["created_at"])
    op.create_table(
        "alert_feedback",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("analyst", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "verdict IN ('useful', 'false_alarm')", name="ck_alert_feedback_verdict"
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name="fk_alert_feedback_alert_id_alerts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_feedback"),
    )
    op.create_index("ix_alert_feedback_alert_id", "alert_feedback", ["alert_id"])

    op.execute(BACKFILL_VERSIONS)
    op.execute(ACTIVATE_NEWEST)
    op.execute(AUDIT_NEWEST)
    op.execute(V_HEADLINES)
    op.execute(ROLLUP_FUNCTION)
    op.execute("DELETE FROM topic_sentiment_rollup")
    op.execute(REBUILD)
    op.execute(V_MODEL_VERSIONS)
    op.execute(f"GRANT SELECT ON v_model_versions TO {READONLY_ROLE}")
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{FEEDBACK_ROLE}') THEN
                CREATE ROLE {FEEDBACK_ROLE} NOLOGIN;
            END IF;
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{FEEDBACK_LOGIN}') THEN
                CREATE ROLE {FEEDBACK_LOGIN} LOGIN IN ROLE {FEEDBACK_ROLE};
            END IF;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {FEEDBACK_ROLE}")
    op.execute(f"GRANT INSERT ON headline_feedback, alert_feedback TO {FEEDBACK_ROLE}")
    # The id defaults call nextval(): USAGE on their sequences, nothing more.
    op.execute(
        f"GRANT USAGE ON SEQUENCE headline_feedback_id_seq, alert_feedback_id_seq "
        f"TO {FEEDBACK_ROLE}"
    )


def downgrade() -> None:
    # The roles stay (cluster-wide); their grants go with the tables.
    op.execute(f"REVOKE ALL ON SCHEMA public FROM {FEEDBACK_ROLE}")
    op.execute("DROP VIEW v_model_versions")
    op.execute(ROLLUP_FUNCTION_OLD)
    op.execute(V_HEADLINES_OLD)
    op.execute("DELETE FROM topic_sentiment_rollup")
    op.execute(REBUILD)
    op.drop_table("alert_feedback")
    op.drop_table("headline_feedback")
    op.drop_table("model_activations")
    op.drop_table("model_versions")
