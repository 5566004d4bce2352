"""Row-Level Security on `todo`: PostgreSQL itself refuses other users' rows.

The application scopes every query to its user; these policies are the second
line of defence. A row is visible and writable only when its `user_id` equals
the transaction-local setting `app.current_user_id`, which the operations set
at the start of each transaction (`SET LOCAL` semantics, so a transaction-mode
pooler cannot carry it over to another client). With the setting absent, no
todo is visible or writable. FORCE applies the policies to the table's owner
too; only superusers and BYPASSRLS roles are exempt, so the application must
connect as a plain role (see `src.database.roles`).

The migration `0002` holds a frozen copy of this SQL; `create_all` uses this
one. The schema tests prove both build the same thing.
"""

from __future__ import annotations

from sqlalchemy import DDL, Table, event

CURRENT_USER_SETTING = "app.current_user_id"
_IS_OWNER = f"user_id = nullif(current_setting('{CURRENT_USER_SETTING}', true), '')::bigint"

ROW_SECURITY_DDL = (
    "ALTER TABLE todo ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE todo FORCE ROW LEVEL SECURITY",
    f"CREATE POLICY todo_select_own ON todo FOR SELECT USING ({_IS_OWNER})",
    f"CREATE POLICY todo_insert_own ON todo FOR INSERT WITH CHECK ({_IS_OWNER})",
    f"CREATE POLICY todo_update_own ON todo FOR UPDATE "
    f"USING ({_IS_OWNER}) WITH CHECK ({_IS_OWNER})",
    f"CREATE POLICY todo_delete_own ON todo FOR DELETE USING ({_IS_OWNER})",
)


def attach_row_security(table: Table) -> None:
    """Have `create_all` add the policies after creating `table` on PostgreSQL."""
    for statement in ROW_SECURITY_DDL:
        ddl = DDL(statement).execute_if(dialect="postgresql")  # type: ignore[no-untyped-call]
        event.listen(table, "after_create", ddl)
