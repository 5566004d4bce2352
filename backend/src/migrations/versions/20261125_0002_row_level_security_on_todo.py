"""Row-Level Security on todo: each row visible and writable only by its owner.

The owner is named by the transaction-local setting app.current_user_id; without
it no row is visible. PostgreSQL only: SQLite has no row security.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IS_OWNER = "user_id = nullif(current_setting('app.current_user_id', true), '')::bigint"
POLICIES = {
    "todo_select_own": f"FOR SELECT USING ({IS_OWNER})",
    "todo_insert_own": f"FOR INSERT WITH CHECK ({IS_OWNER})",
    "todo_update_own": f"FOR UPDATE USING ({IS_OWNER}) WITH CHECK ({IS_OWNER})",
    "todo_delete_own": f"FOR DELETE USING ({IS_OWNER})",
}


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE todo ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE todo FORCE ROW LEVEL SECURITY")
    for name, rule in POLICIES.items():
        op.execute(f"CREATE POLICY {name} ON todo {rule}")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for name in POLICIES:
        op.execute(f"DROP POLICY {name} ON todo")
    op.execute("ALTER TABLE todo NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE todo DISABLE ROW LEVEL SECURITY")
