"""The alert outbox: one row per message (its RFC 5322 bytes) and one per recipient of it.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("alert_key", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("queued_at", sa.String(40), nullable=False),
        sa.Column("next_attempt_at", sa.String(40), nullable=False),
        sa.Column("lease_until", sa.String(40)),
        sa.Column("last_error", sa.Text),
        sa.Column("done_at", sa.String(40)),
    )
    op.create_index("outbox_messages_due", "outbox_messages", ["state", "next_attempt_at"])
    op.create_table(
        "outbox_recipients",
        sa.Column("message", sa.Integer, sa.ForeignKey("outbox_messages.id"), primary_key=True),
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("code", sa.Integer),
        sa.Column("reply", sa.Text),
        sa.Column("updated_at", sa.String(40)),
    )


def downgrade() -> None:
    op.drop_table("outbox_recipients")
    op.drop_index("outbox_messages_due", "outbox_messages")
    op.drop_table("outbox_messages")
