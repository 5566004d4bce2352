"""Sessions made SQLModel's way work with every operation, and what they return stays readable.

`Session(engine)` and `AsyncSession(engine)` expire every object at commit by
default. The operations end their transactions without expiring, so a
returned todo never needs a reload (which, on PostgreSQL, would run where no
user is named and find nothing, and under asyncio would need lazy I/O).
SQLModel's tutorial and public templates make sessions this way.
"""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from src import crud
from src.crud import aio
from src.models import TodoCreate, TodoUpdate, UserCreate
from tests.conftest import empty_tables, tid, uid

PASSWORD = SecretStr("a long enough password")


def test_every_operation_works_on_sqlmodels_own_session(engine: Engine) -> None:
    try:
        with Session(engine) as session:
            assert session.expire_on_commit  # SQLModel's default, left as it is
            user = crud.create_user(session, UserCreate(email="ann@example.com", password=PASSWORD))
            ann = uid(user)
            todo = crud.create_todo(session, ann, TodoCreate(title="first"))
            assert crud.create_todos(session, ann, [TodoCreate(title="second")]) == 1
            assert todo.title == "first"  # readable after the operation's commit
            assert crud.update_todo(session, ann, tid(todo), TodoUpdate(title="renamed")).title == (
                "renamed"
            )
            assert crud.toggle_completed(session, ann, tid(todo)).completed is True
            assert crud.set_completed(session, ann, tid(todo), False).completed is False
            assert crud.get_todo(session, ann, tid(todo)).title == "renamed"
            page = crud.list_todos(session, ann)
            assert [item.title for item in page.items] == ["second", "renamed"]
            assert crud.count_todos(session, ann).total == 2
            assert crud.get_user(session, ann) is user
            assert crud.get_user_by_email(session, "ANN@example.com") is user
            assert crud.authenticate(session, "ann@example.com", PASSWORD) is user
            crud.delete_todo(session, ann, tid(todo))
            assert todo.title == "renamed"  # a deleted todo's last state stays readable
            assert not session.in_transaction()  # nothing held after any operation
            crud.delete_user(session, ann)
            assert user.email == "ann@example.com"
    finally:
        empty_tables(engine)


async def test_every_operation_works_on_sqlmodels_own_async_session(
    async_engine: AsyncEngine,
) -> None:
    async with AsyncSession(async_engine) as session:
        assert session.sync_session.expire_on_commit
        data = UserCreate(email="ann@example.com", password=PASSWORD)
        user = await aio.create_user(session, data)
        ann = uid(user)
        todo = await aio.create_todo(session, ann, TodoCreate(title="first"))
        assert await aio.create_todos(session, ann, [TodoCreate(title="second")]) == 1
        assert todo.title == "first"  # no MissingGreenlet: nothing was expired
        renamed = await aio.update_todo(session, ann, tid(todo), TodoUpdate(title="renamed"))
        assert renamed.title == "renamed"
        assert (await aio.toggle_completed(session, ann, tid(todo))).completed is True
        assert (await aio.set_completed(session, ann, tid(todo), False)).completed is False
        assert (await aio.get_todo(session, ann, tid(todo))).title == "renamed"
        page = await aio.list_todos(session, ann)
        assert [item.title for item in page.items] == ["second", "renamed"]
        assert (await aio.count_todos(session, ann)).total == 2
        assert await aio.get_user(session, ann) is user
        assert await aio.get_user_by_email(session, "ann@EXAMPLE.com") is user
        assert await aio.authenticate(session, "ann@example.com", PASSWORD) is user
        await aio.delete_todo(session, ann, tid(todo))
        assert not session.in_transaction()
        await aio.delete_user(session, ann)
        assert user.email == "ann@example.com"
