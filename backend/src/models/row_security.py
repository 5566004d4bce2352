"""Row-Level Security on `todo`: PostgreSQL itself refuses other users' rows.

The application scopes every query to its user; these policies are the second
line of defence. A row is visible and writable only when its `user_id` equals
the transaction-local setting `app.current_user_id`. With the setting absent,
no todo is visible or writable.

How a user is named (the one place it happens, `_name_in_statement`): a todo
operation runs each statement with the execution option `as_user(user_id)`,
and the statement hook sends `SET LOCAL app.current_user_id = '<id>'` in the
same Query message, ahead of the statement. PostgreSQL runs the statements of
one simple Query as one implicit transaction, so on an autocommit connection
the naming, the statement and the end of the transaction travel together: one
round trip. `SET LOCAL` ends with its transaction, so a transaction-mode
pooler never hands it to another client, and it is the form Citus forwards to
its workers (`set_config` is not). Inside an explicit transaction it is sent
once per transaction (and savepoint) and user. FORCE applies the policies to the table's owner
too; only superusers and BYPASSRLS roles are exempt, so the application must
connect as a plain role (see `src.database.roles`).

The migration `0002` holds a frozen copy of this SQL; `create_all` uses this
one. The schema tests prove both build the same thing.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from sqlalchemy import DDL, Engine, Table, event
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.engine.interfaces import ExecuteStyle
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


USER_OPTION = "todo_row_security_user"  # execution option: the user a statement runs as
_NAMED_USER = "todo.row_security_user"  # Connection.info: (transaction, user_id) named in it
_ENGINES_THAT_NAME: weakref.WeakSet[Engine] = weakref.WeakSet()


def as_user(user_id: int | None) -> Mapping[str, Any]:
    """Execution options that run a statement as `user_id` under row security (None: nobody)."""
    return {USER_OPTION: user_id}


def naming_sql(user_id: int) -> str:
    """`SET LOCAL` for `user_id`; the id is an int, formatted as one, so nothing is interpolated."""
    return f"SET LOCAL {CURRENT_USER_SETTING} = '{int(user_id)}'"


def install_user_naming(engine: Engine) -> None:
    """Have `engine` name the user of every statement run with `as_user` (PostgreSQL only)."""
    event.listen(engine, "before_cursor_execute", _name_in_statement, retval=True)
    event.listen(engine, "after_cursor_execute", _named_in_statement)
    _ENGINES_THAT_NAME.add(engine)


def names_users(engine: Engine) -> bool:
    """Whether `engine` was prepared by the engine factory (and so names users)."""
    return engine in _ENGINES_THAT_NAME


def _name_in_statement(  # noqa: PLR0917  SQLAlchemy's event signature
    connection: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: ExecutionContext | None,
    executemany: bool,
) -> tuple[str, Any]:
    """Send the naming of the statement's user with the statement itself.

    On an autocommit connection every Query message is its own transaction, so
    the naming goes in front of every statement. In an explicit transaction it
    is sent once per transaction (or savepoint, whose rollback would undo it)
    and user. An executemany cannot carry two statements: the naming is then
    sent alone first (only bulk inserts in an explicit transaction do that).
    """
    if context is None:
        return statement, parameters
    user_id = context.execution_options.get(USER_OPTION)
    if user_id is None:
        return statement, parameters
    if not _autocommit(connection) and connection.info.get(_NAMED_USER) == (
        _current_transaction(connection),
        user_id,
    ):
        return statement, parameters
    if executemany and context.execute_style is ExecuteStyle.EXECUTEMANY:  # not insertmanyvalues
        cursor.execute(naming_sql(user_id))
        return statement, parameters
    return f"{naming_sql(user_id)}; {statement}", parameters


def _named_in_statement(
    connection: Connection,
    _cursor: Any,
    _statement: str,
    _parameters: Any,
    context: ExecutionContext | None,
    _executemany: bool,
) -> None:
    """Remember, once the server ran it, whom the transaction now names.

    Only after success: a statement the driver refused before sending (a NUL
    in a parameter, an interrupt) never named anyone, and a statement after
    it must still carry the naming.
    """
    if context is None or _autocommit(connection):
        return
    user_id = context.execution_options.get(USER_OPTION)
    if user_id is not None:
        connection.info[_NAMED_USER] = (_current_transaction(connection), user_id)


def _current_transaction(connection: Connection) -> object:
    return connection.get_nested_transaction() or connection.get_transaction()


def _autocommit(connection: Connection) -> bool:
    return bool(getattr(connection.connection.dbapi_connection, "autocommit", False))


def act_as(session: Session, user_id: int) -> None:
    """Name `user_id` to row security for the rest of the session's current transaction, now.

    For statements that cannot carry `as_user` (a flush of objects the caller
    changed, tests reading tables directly). It begins the session's
    transaction if none is open; on an autocommit connection it would end at
    once, so it is refused there. SQLite has no row security: nothing is sent.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    connection = session.connection()
    if _autocommit(connection):
        raise SessionConfigurationError(
            "act_as needs a transaction: on an autocommit connection the setting "
            "would end with the statement that sets it"
        )
    transaction = _current_transaction(connection)
    if connection.info.get(_NAMED_USER) == (transaction, user_id):
        return
    connection.exec_driver_sql(naming_sql(user_id))
    connection.info[_NAMED_USER] = (transaction, user_id)
