"""A search reads an index, not every row of the user: `todo.search_head`, `ix_todo_search`.

PostgreSQL only (`src.models.search_index` says why and how): a stored
generated column holding title and description lowered as the search lowers
them (NULL past 2,400 bytes, so every row fits a B-tree entry), an index on
the page order that carries it with `completed`, and no parallel plans on
`todo`. SQLite changes nothing.

Adding a stored column rewrites the table: every row is copied with its new
value, and the index is built after it. Like every migration run here, it
takes ACCESS EXCLUSIVE on `todo` and `user` within `DB_MIGRATION_LOCK_TIMEOUT_S`
(src.database.migration_locks) and holds both until it commits: todo requests
and logins wait for the rewrite and the build (about 5 s for 1,000,000 rows
here, plus the index), and the rewrite needs the table's size again in free
disk while it runs. No row is lost or changed; the downgrade drops the index
and the column and resets the table option (to the default, whatever an
operator had set).

This is a frozen copy of `SEARCH_INDEX_DDL`; a test holds the two equal.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOWERED_TEXT = (
    "lower(title COLLATE \"und-x-icu\") || E'\\n' || "
    "coalesce(lower(description COLLATE \"und-x-icu\"), '')"
)
UPGRADE = (
    "ALTER TABLE todo ADD COLUMN search_head text GENERATED ALWAYS AS "
    f"(CASE WHEN octet_length({_LOWERED_TEXT}) <= 2400 THEN {_LOWERED_TEXT} END) STORED",
    "CREATE INDEX ix_todo_search ON todo (user_id, created_at, id) "
    "INCLUDE (completed, search_head)",
    "ALTER TABLE todo SET (parallel_workers = 0)",
)
DOWNGRADE = (
    "ALTER TABLE todo RESET (parallel_workers)",
    "DROP INDEX ix_todo_search",
    "ALTER TABLE todo DROP COLUMN search_head",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)
