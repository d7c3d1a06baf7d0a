"""Web dashboard: per-topic sentiment rollups kept by a trigger, headline search and filter
indexes, read-only views for the web app and Grafana, and a login role for them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

The rollup holds, per grain (1 minute, 5 minutes, 1 hour), bucket and topic, the counts of
headlines by sentiment and the sum of P(negative), each headline counted once with its latest
classification (the rule of ``v_headlines``). A statement-level trigger on ``classifications``
updates it in the transaction that stores the classifications, so a reader never sees a
classification without its rollup. ``v_topic_sentiment_5m`` keeps its columns and reads the
5-minute grain instead of grouping ``v_headlines`` on every query.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
READONLY_ROLE = "tapewatch_readonly"
# A login role in the read-only group for the web app and Grafana. It has no password: it can
# log in only where pg_hba trusts local connections (the local cluster of `make run`);
# `tapewatch db upgrade` sets a password from TAPEWATCH_WEB__READONLY_PASSWORD where one is set.
LOGIN_ROLE = "tapewatch_web"
GRAINS_S = (60, 300, 3600)
ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"

# A headline re-classified by a newer model moves from its old (topic, sentiment) to the new
# one: the previous latest classification is subtracted, the new one added. Rows are grouped
# and upserted in key order, so two batches that touch the same buckets lock them in the same
# order instead of deadlocking.
ROLLUP_FUNCTION = f"""
CREATE FUNCTION tapewatch_rollup_classifications() RETURNS trigger
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
    CROSS JOIN (VALUES {", ".join(f"({g})" for g in GRAINS_S)}) AS g (grain_s)
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

ROLLUP_TRIGGER = """
CREATE TRIGGER trg_classifications_rollup
AFTER INSERT ON classifications
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tapewatch_rollup_classifications()
"""

# Rebuilds the rollup from what is stored (the migration itself, and a repair if needed).
BACKFILL = f"""
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
CROSS JOIN (VALUES {", ".join(f"({g})" for g in GRAINS_S)}) AS g (grain_s)
WHERE v.topic IS NOT NULL
GROUP BY 1, 2, 3
"""

# The dashboard contract: same columns as in 0001 (tests/test_storage.py pins them).
V_TOPIC_SENTIMENT_5M = """
CREATE VIEW v_topic_sentiment_5m AS
SELECT bucket, topic, headlines, negative, neutral, positive,
       sum_negative_probability / headlines AS mean_negative_probability
FROM topic_sentiment_rollup
WHERE grain_s = 300 AND headlines > 0
"""

V_TOPIC_SENTIMENT_OLD = """
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

# Every grain, for charts whose range wants a coarser or finer step than 5 minutes.
V_TOPIC_SENTIMENT_ROLLUP = """
CREATE VIEW v_topic_sentiment_rollup AS
SELECT grain_s, bucket, topic, headlines, negative, neutral, positive,
       sum_negative_probability / headlines AS mean_negative_probability
FROM topic_sentiment_rollup
WHERE headlines > 0
"""

# What the web app shows of the outbox: no payloads (they repeat the evidence), no URLs (the
# receivers' URLs are secrets and never stored anyway).
V_ALERT_NOTIFICATIONS = """
CREATE VIEW v_alert_notifications AS
SELECT id, alert_id, receiver, event, format, status, attempts, next_attempt_at, created_at,
       delivered_at, last_error
FROM alert_notifications
"""

V_ALERT_DELIVERY_ATTEMPTS = """
CREATE VIEW v_alert_delivery_attempts AS
SELECT a.id, a.notification_id, n.alert_id, n.receiver, a.attempt, a.attempted_at, a.outcome,
       a.status_code, a.error, a.duration_ms
FROM alert_delivery_attempts a
JOIN alert_notifications n ON n.id = a.notification_id
"""

# Feed states without the conditional-GET validators.
V_FEED_STATE = """
CREATE VIEW v_feed_state AS
SELECT source, url, last_polled_at, last_status, last_error, last_success_at,
       consecutive_failures, next_poll_after
FROM feed_state
"""

# The last hour of classification activity: which model versions wrote, how many rows, how
# late after ingest. Bounded by the classified_at index, whatever the history behind it.
V_CLASSIFY_RECENT = """
CREATE VIEW v_classify_recent AS
SELECT date_trunc('minute', c.classified_at) AS minute, c.model_version,
       count(*) AS classified,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM c.classified_at - h.ingested_at)) AS latency_p50_s,
       percentile_cont(0.99) WITHIN GROUP (
           ORDER BY extract(epoch FROM c.classified_at - h.ingested_at)) AS latency_p99_s
FROM classifications c
JOIN headlines h ON h.id = c.headline_id
WHERE c.classified_at >= now() - interval '1 hour'
GROUP BY 1, 2
"""

VIEWS = (
    ("v_topic_sentiment_rollup", V_TOPIC_SENTIMENT_ROLLUP),
    ("v_alert_notifications", V_ALERT_NOTIFICATIONS),
    ("v_alert_delivery_attempts", V_ALERT_DELIVERY_ATTEMPTS),
    ("v_feed_state", V_FEED_STATE),
    ("v_classify_recent", V_CLASSIFY_RECENT),
)


def upgrade() -> None:
    op.create_table(
        "topic_sentiment_rollup",
        sa.Column("grain_s", sa.Integer(), nullable=False),
        sa.Column("bucket", TZ, nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("headlines", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("negative", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("neutral", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("positive", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("sum_negative_probability", sa.Float(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("grain_s", "bucket", "topic", name="pk_topic_sentiment_rollup"),
    )
    op.create_index(
        "ix_topic_sentiment_rollup_grain_s",
        "topic_sentiment_rollup",
        ["grain_s", "topic", "bucket"],
    )
    # Headline search and filters (the web app's Headlines page).
    op.create_index(
        "ix_headlines_title_fts",
        "headlines",
        [sa.text("to_tsvector('english', title)")],
        postgresql_using="gin",
    )
    op.create_index("ix_headlines_tickers", "headlines", ["tickers"], postgresql_using="gin")
    op.create_index("ix_headlines_source", "headlines", ["source", "published_at"])

    op.execute(ROLLUP_FUNCTION)
    op.execute(ROLLUP_TRIGGER)
    op.execute(BACKFILL)
    op.execute("DROP VIEW v_topic_sentiment_5m")
    op.execute(V_TOPIC_SENTIMENT_5M)
    for _name, ddl in VIEWS:
        op.execute(ddl)
    views = ", ".join(["v_topic_sentiment_5m", *(name for name, _ in VIEWS)])
    op.execute(f"GRANT SELECT ON {views} TO {READONLY_ROLE}")
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{LOGIN_ROLE}') THEN
                CREATE ROLE {LOGIN_ROLE} LOGIN IN ROLE {READONLY_ROLE};
            END IF;
        END $$
        """
    )


def downgrade() -> None:
    # The login role stays: roles are cluster-wide and may serve other databases.
    for name, _ddl in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.execute("DROP VIEW v_topic_sentiment_5m")
    op.execute(V_TOPIC_SENTIMENT_OLD)
    op.execute(f"GRANT SELECT ON v_topic_sentiment_5m TO {READONLY_ROLE}")
    op.execute("DROP TRIGGER trg_classifications_rollup ON classifications")
    op.execute("DROP FUNCTION tapewatch_rollup_classifications()")
    op.drop_index("ix_headlines_source", table_name="headlines")
    op.drop_index("ix_headlines_tickers", table_name="headlines")
    op.drop_index("ix_headlines_title_fts", table_name="headlines")
    op.drop_table("topic_sentiment_rollup")
