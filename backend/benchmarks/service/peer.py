"""The peer of the service benchmark: a todo API written the way public FastAPI backends write it.

A plain SQLModel app, deliberately *not* built on `src`: one module-level
`create_engine(url, pool_recycle=3600)` with SQLAlchemy's default pool (5 +
10 overflow, no pre-ping), `Depends(get_session)` yielding `Session(engine)`,
OFFSET paging, `session.get` + attribute set + commit + refresh for writes,
and the owner check as a filter in the WHERE clause (or a comparison after
`session.get`). It serves the same paths and JSON shapes as the example
service (`examples/sync_app.py`), so one load driver measures both; its
`next_cursor` is the next OFFSET as text.

Authentication is the example's own bearer token (`examples.auth`), so both
sides pay the same for it and differ only in their data access. It has no
row-security code, so the benchmark gives it a database with row-level
security disabled (see `benchmarks.service.stack`).

    DATABASE_URL=... EXAMPLE_TOKEN_SECRET=... uvicorn benchmarks.service.peer:app --workers 2
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from examples.auth import token_settings
from src.api.tokens import TokenVerifier


class PeerModel(SQLModel, registry=registry()):
    """Its own metadata: the peer never shares tables or events with `src.models`."""


class TodoBase(PeerModel):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    completed: bool = False


class Todo(TodoBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(index=True)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class TodoCreate(TodoBase):
    pass


class TodoUpdate(PeerModel):
    title: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    completed: bool | None = None


class TodoPublic(TodoBase):
    id: int
    user_id: int
    created_at: datetime
    updated_at: datetime


class TodosPublic(BaseModel):
    items: list[TodoPublic]
    next_cursor: str | None


class TodoCounts(BaseModel):
    total: int
    completed: int
    open: int


engine = create_engine(os.environ["DATABASE_URL"], pool_recycle=3600)


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
CurrentUser = Annotated[int, Depends(TokenVerifier(token_settings()))]
app = FastAPI(title="Peer-style todo service")


def _owned_todo(session: Session, user_id: int, todo_id: int) -> Todo:
    todo = session.get(Todo, todo_id)
    if todo is None or todo.user_id != user_id:
        raise HTTPException(status_code=404, detail="Todo not found")
    return todo


@app.post("/todos", status_code=201, response_model=TodoPublic)
def create_todo(body: TodoCreate, session: SessionDep, user_id: CurrentUser) -> Todo:
    todo = Todo.model_validate(body, update={"user_id": user_id})
    session.add(todo)
    session.commit()
    session.refresh(todo)
    return todo


@app.get("/todos/counts")
def count_todos(session: SessionDep, user_id: CurrentUser) -> TodoCounts:
    mine = select(func.count()).select_from(Todo).where(Todo.user_id == user_id)
    total = session.exec(mine).one()
    done = session.exec(mine.where(col(Todo.completed).is_(True))).one()
    return TodoCounts(total=total, completed=done, open=total - done)


@app.get("/todos/{todo_id}", response_model=TodoPublic)
def read_todo(todo_id: int, session: SessionDep, user_id: CurrentUser) -> Todo:
    return _owned_todo(session, user_id, todo_id)


@app.get("/todos")
def list_todos(
    session: SessionDep,
    user_id: CurrentUser,
    *,
    completed: bool | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    newest_first: bool = True,
) -> TodosPublic:
    skip = int(cursor) if cursor and cursor.isdecimal() else 0
    statement = select(Todo).where(Todo.user_id == user_id)
    if completed is not None:
        statement = statement.where(Todo.completed == completed)
    order = (
        (col(Todo.created_at).desc(), col(Todo.id).desc())
        if newest_first
        else (col(Todo.created_at), col(Todo.id))
    )
    rows = session.exec(statement.order_by(*order).offset(skip).limit(limit + 1)).all()
    next_cursor = str(skip + limit) if len(rows) > limit else None
    items = [TodoPublic.model_validate(todo) for todo in rows[:limit]]
    return TodosPublic(items=items, next_cursor=next_cursor)


@app.patch("/todos/{todo_id}", response_model=TodoPublic)
def update_todo(todo_id: int, body: TodoUpdate, session: SessionDep, user_id: CurrentUser) -> Todo:
    todo = _owned_todo(session, user_id, todo_id)
    todo.sqlmodel_update(body.model_dump(exclude_unset=True))
    todo.updated_at = datetime.now(UTC)
    session.add(todo)
    session.commit()
    session.refresh(todo)
    return todo


@app.post("/todos/{todo_id}/toggle", response_model=TodoPublic)
def toggle_todo(todo_id: int, session: SessionDep, user_id: CurrentUser) -> Todo:
    todo = _owned_todo(session, user_id, todo_id)
    todo.completed = not todo.completed
    todo.updated_at = datetime.now(UTC)
    session.add(todo)
    session.commit()
    session.refresh(todo)
    return todo


@app.delete("/todos/{todo_id}", status_code=204)
def delete_todo(todo_id: int, session: SessionDep, user_id: CurrentUser) -> None:
    session.delete(_owned_todo(session, user_id, todo_id))
    session.commit()
