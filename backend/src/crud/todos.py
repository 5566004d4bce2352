"""Todo operations. Every one takes the caller's `user_id` and sees only that user's rows.

Every operation runs inside `all_or_nothing(session, user_id)`, which names
the user to PostgreSQL's row security with its statement and ends the
transaction before the operation returns, and every statement comes
from `statements.py`, where `owned` is the single place a todo query is scoped
to its owner (the bound parameter `owner_id`, which SQLAlchemy refuses to run a
statement without). A todo of another user
is indistinguishable from one that does not exist (the same
`TodoNotFoundError`, the same message), and PostgreSQL would refuse it even if
a filter were missing. `src.crud.aio` runs these same functions on an
`AsyncSession` through `run_sync`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from pydantic import StrictBool
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from src.crud.arguments import Cursor, PageSize, RowId, TodoCreateItem, validated
from src.crud.integrity import violates
from src.crud.pagination import Position, decode_cursor, encode_cursor
from src.crud.results import rows_matched
from src.crud.search import (
    SearchText,
    like_pattern,
    prepare_connection,
    search_count_statement,
    search_key,
    search_page_statement,
)
from src.crud.statements import (
    BULK_BATCH,
    COUNT,
    CREATE_FIELDS,
    DELETE,
    FLIP,
    GET,
    INSERT_MANY,
    page_statement,
    update_statement,
)
from src.crud.transactions import all_or_nothing
from src.errors import TodoNotFoundError, UserNotFoundError
from src.models import Todo, TodoCreate, TodoUpdate
from src.models.types import utc_now


@dataclass(frozen=True, slots=True)
class TodoPage:
    items: list[Todo]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class TodoCounts:
    total: int
    completed: int
    open: int


@validated
def create_todo(session: Session, user_id: RowId, data: TodoCreate) -> Todo:
    """Create a todo for `user_id`; `UserNotFoundError` if there is no such user."""
    todo = Todo.model_validate({**data.model_dump(), "user_id": user_id})
    with _writing_for(session, user_id):
        session.add(todo)
    return todo


@validated
def create_todos(session: Session, user_id: RowId, items: list[TodoCreateItem]) -> int:
    """Insert many todos for one user in one statement batch: all of them or none.

    Each item is validated first (an error names its index), unless it still holds what its
    own validation produced; returns how many were created.
    """
    if not items:
        return 0
    now = utc_now()
    # The validated values of TodoCreate's own fields, read as they are:
    # model_dump would serialise each item again, a tenth of the call's time
    # for 10,000 items (research.md, section 14).
    read_fields = attrgetter(*CREATE_FIELDS)
    fixed = {"user_id": user_id, "created_at": now, "updated_at": now}
    rows = [dict(zip(CREATE_FIELDS, read_fields(item), strict=True), **fixed) for item in items]
    with _writing_for(session, user_id, single_statement=len(rows) <= BULK_BATCH):
        session.execute(INSERT_MANY, rows)
    return len(rows)


@validated
def get_todo(session: Session, user_id: RowId, todo_id: RowId) -> Todo:
    with all_or_nothing(session, user_id, writes=False):
        todo = session.scalars(GET, {"owner_id": user_id, "todo_id": todo_id}).first()
    if todo is None:
        raise TodoNotFoundError(todo_id)
    return todo


@validated
def update_todo(session: Session, user_id: RowId, todo_id: RowId, data: TodoUpdate) -> Todo:
    """Change only the fields `data` carries; `updated_at` moves even if nothing else did."""
    return _update(session, user_id, todo_id, data.changes())


@validated
def set_completed(session: Session, user_id: RowId, todo_id: RowId, completed: StrictBool) -> Todo:
    return _update(session, user_id, todo_id, {"completed": completed})


@validated
def toggle_completed(session: Session, user_id: RowId, todo_id: RowId) -> Todo:
    """Flip `completed` inside one UPDATE, so concurrent toggles never lose one."""
    return _update(session, user_id, todo_id, {"completed": FLIP})


@validated
def delete_todo(session: Session, user_id: RowId, todo_id: RowId) -> None:
    with all_or_nothing(session, user_id):
        result = session.execute(DELETE, {"owner_id": user_id, "todo_id": todo_id})
        if rows_matched(result) == 0:  # nothing changed: no rollback, which would expire objects
            raise TodoNotFoundError(todo_id)


@validated
def list_todos(
    session: Session,
    user_id: RowId,
    *,
    completed: StrictBool | None = None,
    limit: PageSize = 50,
    cursor: Cursor | None = None,
    newest_first: StrictBool = True,
    search: SearchText | None = None,
) -> TodoPage:
    """One page of `user_id`'s todos in (created_at, id) order, and the cursor for the next.

    Keyset pagination: a deep page costs what the first one does. `next_cursor`
    is None on the last page. With `search`, only todos whose title or
    description contains it, in any letter case (`src.crud.search`); the
    cursor is then bound to that search.
    """
    key = None if search is None else search_key(search)
    parameters: dict[str, Any] = {"owner_id": user_id, "row_limit": limit + 1}
    if completed is not None:
        parameters["completed"] = completed
    if key is not None:
        parameters["search_pattern"] = like_pattern(key)
    if cursor is not None:
        after = decode_cursor(
            cursor, user_id=user_id, completed=completed, newest_first=newest_first, search=key
        )
        parameters |= {"after_created_at": after.created_at, "after_id": after.todo_id}
    shape = {
        "filtered": completed is not None,
        "after_cursor": cursor is not None,
        "newest_first": newest_first,
    }
    statement = (
        page_statement(**shape)
        if key is None
        else search_page_statement(**shape, indexed=_indexed(session))
    )
    with all_or_nothing(session, user_id, writes=False):
        if key is not None:
            prepare_connection(session)
        rows = list(session.scalars(statement, parameters))
    items = rows[:limit]
    if len(rows) <= limit:
        return TodoPage(items, None)
    last = items[-1]
    assert last.id is not None
    position = Position(user_id, completed, newest_first, last.created_at, last.id, key)
    return TodoPage(items, encode_cursor(position))


@validated
def count_todos(
    session: Session, user_id: RowId, *, search: SearchText | None = None
) -> TodoCounts:
    """How many of `user_id`'s todos there are, by status; with `search`, of those
    `list_todos` finds with it."""
    parameters: dict[str, Any] = {"owner_id": user_id}
    if search is not None:
        parameters["search_pattern"] = like_pattern(search_key(search))
    with all_or_nothing(session, user_id, writes=False):
        if search is not None:
            prepare_connection(session)
        statement = COUNT if search is None else search_count_statement(indexed=_indexed(session))
        rows = session.execute(statement, parameters)
        by_status = {bool(done): int(n) for done, n in rows}
    done, pending = by_status.get(True, 0), by_status.get(False, 0)
    return TodoCounts(total=done + pending, completed=done, open=pending)


def _indexed(session: Session) -> bool:
    """Whether a search reads `ix_todo_search` (PostgreSQL; `src.models.search_index`)."""
    return session.get_bind().dialect.name == "postgresql"


def _update(session: Session, user_id: int, todo_id: int, values: dict[str, Any]) -> Todo:
    # RETURNING refreshes the caller's copy of the todo, if the session holds one;
    # no other synchronisation of the identity map is needed.
    toggle = values.get("completed") is FLIP
    columns = tuple(sorted(name for name in values if not (toggle and name == "completed")))
    parameters = {f"new_{name}": values[name] for name in columns}
    parameters |= {"owner_id": user_id, "todo_id": todo_id, "new_updated_at": utc_now()}
    with all_or_nothing(session, user_id):
        statement = update_statement(columns, toggle=toggle)
        todo: Todo | None = session.scalars(statement, parameters).first()
        if todo is None:  # nothing changed: no rollback, which would expire the caller's objects
            raise TodoNotFoundError(todo_id)
    return todo


@contextmanager
def _writing_for(
    session: Session, user_id: int, *, single_statement: bool = True
) -> Iterator[None]:
    """All or nothing; a foreign-key failure means `user_id` does not exist."""
    try:
        with all_or_nothing(session, user_id, single_statement=single_statement):
            yield
    except IntegrityError as exc:
        if violates(exc, "fk_todo_user_id_user"):
            raise UserNotFoundError(user_id) from None
        raise
