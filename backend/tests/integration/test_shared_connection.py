"""Sessions sharing one connection never see each other's row-security user.

`Session(bind=connection)` is SQLAlchemy's documented pattern for running
several sessions inside one outer transaction (tests, unit-of-work wrappers).
They share the connection's transaction, and with it `app.current_user_id`.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm.session import JoinTransactionMode
from sqlmodel import Session

from src import crud
from src.crud import aio
from src.models import TodoCreate
from tests.conftest import add_user, uid

JOIN_MODES: list[JoinTransactionMode] = ["rollback_only", "create_savepoint"]


def _two_users_with_a_todo_each(connection: Connection) -> tuple[int, int]:
    with Session(bind=connection, expire_on_commit=False) as setup:
        ann, bob = add_user(setup, "ann@example.com"), add_user(setup, "bob@example.com")
        crud.create_todo(setup, uid(ann), TodoCreate(title="ann's"))
        crud.create_todo(setup, uid(bob), TodoCreate(title="bob's"))
        return uid(ann), uid(bob)


def titles(page: crud.TodoPage) -> list[str]:
    return [todo.title for todo in page.items]


@pytest.mark.parametrize("join_mode", JOIN_MODES)
def test_two_sessions_on_one_connection_each_see_only_their_users_todos(
    engine: Engine, join_mode: JoinTransactionMode
) -> None:
    with engine.connect() as connection:
        outer = connection.begin()
        try:
            ann, bob = _two_users_with_a_todo_each(connection)
            with (
                Session(
                    bind=connection, join_transaction_mode=join_mode, expire_on_commit=False
                ) as for_ann,
                Session(
                    bind=connection, join_transaction_mode=join_mode, expire_on_commit=False
                ) as for_bob,
            ):
                for _ in range(2):  # each session's second call follows the other's
                    assert titles(crud.list_todos(for_ann, ann)) == ["ann's"]
                    assert titles(crud.list_todos(for_bob, bob)) == ["bob's"]
                    assert crud.count_todos(for_ann, ann).total == 1
                    assert crud.count_todos(for_bob, bob).total == 1
        finally:
            outer.rollback()


async def test_two_async_sessions_on_one_connection_each_see_only_their_users_todos(
    async_engine: AsyncEngine,
) -> None:
    async with async_engine.connect() as connection:
        outer = await connection.begin()
        try:
            ann, bob = await connection.run_sync(_two_users_with_a_todo_each)
            async with (
                AsyncSession(bind=connection, expire_on_commit=False) as for_ann,
                AsyncSession(bind=connection, expire_on_commit=False) as for_bob,
            ):
                for _ in range(2):
                    assert titles(await aio.list_todos(for_ann, ann)) == ["ann's"]
                    assert titles(await aio.list_todos(for_bob, bob)) == ["bob's"]
        finally:
            await outer.rollback()
