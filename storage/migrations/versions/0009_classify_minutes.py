"""The Pipeline page's counts per minute without the latency join.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

``v_classify_recent`` joins every classification of the last hour to its headline for the
ingest-to-classified latency; at 10 million headlines that is ~9,000 index probes into
``headlines`` per request (180 ms of the Pipeline answer's ~230). The page needs latency only
for the 15 minutes it charts, and for the hour only the counts per minute and model version,
which ``classifications`` alone answers: ``v_classify_minutes``.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

READONLY_ROLE = "tapewatch_readonly"

V_CLASSIFY_MINUTES = """
CREATE VIEW v_classify_minutes AS
SELECT date_trunc('minute', classified_at) AS minute, model_version, count(*) AS classified
FROM classifications
WHERE classified_at >= now() - interval '1 hour'
GROUP BY 1, 2
"""


def upgrade() -> None:
    op.execute(V_CLASSIFY_MINUTES)
    op.execute(f"GRANT SELECT ON v_classify_minutes TO {READONLY_ROLE}")


def downgrade() -> None:
    op.execute("DROP VIEW v_classify_minutes")
