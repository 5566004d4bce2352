"""Row-Level Security on `todo`: PostgreSQL itself refuses other users' rows.

The application scopes every query to its user; these policies are the second
line of defence. A row is visible and writable only when its `user_id` equals
the transaction-local setting `app.current_user_id`, which every todo
operation sets through `act_as` at the start of each transaction (`SET LOCAL`
semantics, so a transaction-mode pooler cannot carry it over to another
client). With the setting absent, no
todo is visible or writable. FORCE applies the policies to the table's owner
too; only superusers and BYPASSRLS roles are exempt, so the application must
connect as a plain role (see `src.database.roles`).

The migration `0002` holds a frozen copy of this SQL; `create_all` uses this
one. The schema tests prove both build the same thing.
"""

from __future__ import annotations

from sqlalchemy import DDL, Table, event, text
from sqlalchemy.orm import Session

from src.errors import SessionConfigurationError

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
        ddl = DDL(statement).execute_if(dialect="postgresql")  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated
        event.listen(table, "after_create", ddl)


_NAME_USER = text("SELECT set_config(:setting, :user_id, true)")
_NAMED_USER = "todo.row_security_user"  # key in Connection.info: (transaction, user_id)


def act_as(session: Session, user_id: int) -> None:
    """Name `user_id` to PostgreSQL's row security for the session's current transaction.

    `set_config(..., true)` is `SET LOCAL`: it ends with the transaction, so a
    transaction-mode pooler never hands it to another client. It is sent once
    per transaction (and savepoint) and user. What was sent is remembered on
    the connection, never on the session: two sessions bound to one
    connection (`Session(bind=connection)`) share its transaction and its
    setting, so each must see what the other named. SQLite has no row
    security; there it sends nothing. On both, a session that would expire the
    todos it returns is refused (`SessionConfigurationError`): the reload after
    commit would run in a new transaction where no user is named, and the todo
    would look deleted.
    """
    if session.expire_on_commit:
        raise SessionConfigurationError
    if session.get_bind().dialect.name != "postgresql":
        return
    connection = session.connection()
    transaction = connection.get_nested_transaction() or connection.get_transaction()
    # Savepoints count: rolling one back undoes the set_config sent inside it.
    if connection.info.get(_NAMED_USER) == (transaction, user_id):
        return
    connection.execute(_NAME_USER, {"setting": CURRENT_USER_SETTING, "user_id": str(user_id)})
    connection.info[_NAMED_USER] = (transaction, user_id)
