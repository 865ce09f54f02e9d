"""The monitor's history: one verdict per service date, and the drift events emitted for retrains.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_days",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("drifted", sa.Boolean),
        sa.Column("event_start", sa.String(10)),
        sa.Column("incident_key", sa.Text),
        sa.Column("champion", sa.String(32)),
        sa.Column("alerted", sa.Boolean, nullable=False),
    )
    op.create_table(
        "drift_events",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("incident_key", sa.Text),
        sa.Column("window_end", sa.String(40), nullable=False),
        sa.Column("emitted_by", sa.String(256), nullable=False),
        sa.Column("emitted_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drift_events")
    op.drop_table("monitor_days")
