"""The tables of Railcast's state database (SQLAlchemy Core); migrations/ creates and changes them."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Every alias move and refused promotion, oldest first: the history score, monitor and the demo trust.
alias_moves = sa.Table(
    "alias_moves", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action", sa.String(16), nullable=False),        # move | refused
    sa.Column("alias", sa.String(64), nullable=False),
    sa.Column("from_version", sa.String(32)),
    sa.Column("to_version", sa.String(32)),
    sa.Column("why", sa.Text, nullable=False),
    sa.Column("who", sa.String(256), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),            # ISO instant the move is recorded for
)
