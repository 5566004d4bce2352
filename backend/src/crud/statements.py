"""The todo statements, built once with bound parameters; `owned` scopes every one.

`owned` is the single place a todo query is scoped to its owner: the bound
parameter `owner_id`, which SQLAlchemy refuses to run a statement without, so a
forgotten value fails closed. Building and caching a statement per call was a
fifth of a page's cost in the profile (research.md, section 14).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    not_,
    select,
    tuple_,
    update,
)
from sqlalchemy.sql import Executable, FromClause
from sqlmodel import col

from src.models import Todo, TodoCreate


def owned(*conditions: ColumnElement[bool], of: FromClause | None = None) -> ColumnElement[bool]:
    """WHERE clause for the todos of the user bound as `owner_id`; the only todo filter here.

    `of`: another name for the todo table in the same statement (the search's
    index scan, `src.crud.search`), scoped to the same user the same way.
    """
    owner = col(Todo.user_id) if of is None else of.c.user_id
    return and_(owner == bindparam("owner_id"), *conditions)


TODO_TABLE: Table = Todo.__table__  # type: ignore[attr-defined]  # SQLModel does not declare it

# Statements are built once, with bound parameters: building and caching a
# statement per call was a fifth of a page's cost in the profile (research.md).
ONE_TODO = owned(col(Todo.id) == bindparam("todo_id"))
# Reads refresh what the session already holds: a request sees the row as it is now.
GET = select(Todo).where(ONE_TODO).execution_options(populate_existing=True)
DELETE = delete(Todo).where(ONE_TODO)
COUNT = select(col(Todo.completed), func.count()).where(owned()).group_by(col(Todo.completed))
# A Core INSERT of validated rows: the driver batches them into multi-row
# INSERTs. The ORM's bulk INSERT cost 20% more, and split the batch at every
# row whose description was None where the previous one had one (research.md).
# One batch is one statement (and so, on its own, one round trip); a larger bulk
# create runs its batches in one explicit transaction.
BULK_BATCH = 1000
INSERT_MANY = insert(TODO_TABLE).execution_options(insertmanyvalues_page_size=BULK_BATCH)
CREATE_FIELDS = tuple(TodoCreate.model_fields)  # what each bulk row takes from its item
FLIP = not_(col(Todo.completed))  # `toggle_completed`'s new value, computed by the UPDATE


@functools.cache
def page_statement(*, filtered: bool, after_cursor: bool, newest_first: bool) -> Select[Todo]:
    """The `list_todos` query for one combination of filter, cursor and order."""
    conditions: list[ColumnElement[bool]] = []
    if filtered:
        conditions.append(col(Todo.completed) == bindparam("completed"))
    if after_cursor:
        key = tuple_(col(Todo.created_at), col(Todo.id))
        boundary = tuple_(
            bindparam("after_created_at", type_=TODO_TABLE.c.created_at.type),
            bindparam("after_id", type_=TODO_TABLE.c.id.type),
        )
        conditions.append(key < boundary if newest_first else key > boundary)
    created_at, todo_id = col(Todo.created_at), col(Todo.id)
    order = (
        (created_at.desc(), todo_id.desc()) if newest_first else (created_at.asc(), todo_id.asc())
    )
    return (
        select(Todo)
        .where(owned(*conditions))
        .order_by(*order)
        .limit(bindparam("row_limit"))
        .execution_options(populate_existing=True)
    )


@functools.cache
def update_statement(columns: tuple[str, ...], *, toggle: bool) -> Executable:
    """The UPDATE ... RETURNING for one set of changed columns, built once with bound values.

    Building the statement per call (values, RETURNING, cache key) was a fifth
    of an update's Python time in the profile (research.md, section 14).
    """
    table_columns = TODO_TABLE.c
    values: dict[str, Any] = {
        name: bindparam(f"new_{name}", type_=table_columns[name].type) for name in columns
    }
    if toggle:
        values["completed"] = FLIP
    values["updated_at"] = bindparam("new_updated_at", type_=table_columns.updated_at.type)
    return (
        update(Todo)
        .where(ONE_TODO)
        .values(values)
        .returning(Todo)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
