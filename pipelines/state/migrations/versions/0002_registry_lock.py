"""The registry lock: one row every alias move updates first, so moves serialize across hosts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    locks = op.create_table(
        "registry_locks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(256)),
        sa.Column("since", sa.String(40)),
    )
    op.bulk_insert(locks, [{"name": "registry", "holder": None, "since": None}])


def downgrade() -> None:
    op.drop_table("registry_locks")
