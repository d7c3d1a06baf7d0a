"""Dashboard view of alerts, readable by the read-only role.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Part of the dashboard contract (tests/test_storage.py pins the columns).
V_ALERTS = """
CREATE VIEW v_alerts AS
SELECT id, topic, rule, state, started_at, fired_at, ended_at, last_evaluated_at,
       last_notified_at, evidence
FROM alerts
"""


def upgrade() -> None:
    op.execute(V_ALERTS)
    op.execute("GRANT SELECT ON v_alerts TO tapewatch_readonly")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_alerts")
