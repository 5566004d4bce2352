"""Accounts can be deactivated: `user.is_active`, true for every account that exists.

A deactivated account keeps its row and its todos; it cannot log in and its
tokens are refused (`src.crud.users`, `src.api.active_accounts`).

The column is added with a constant default, so neither backend rewrites the
table: PostgreSQL (11 and later) records the default in the catalog and
reads it for the rows already there, which makes every existing account
active at once, holding the table's lock for no longer than the catalog
change; SQLite's ALTER TABLE ADD COLUMN takes a NOT NULL column whose default
is not NULL, and likewise only rewrites the table's definition, so no table
is rebuilt (`src.database.sqlite_rebuild` says why a rebuild is a risk). The
downgrade drops the column and keeps every row (SQLite 3.35 or later, which
the package already needs for RETURNING); who was deactivated is forgotten,
so every account can log in again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "user",
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("user", "is_active")
