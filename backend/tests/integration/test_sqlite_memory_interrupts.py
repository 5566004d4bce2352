"""An interrupt or a cancellation costs the in-memory database only its own transaction.

SQLAlchemy discards a connection an interrupt cut (Ctrl-C, a cancelled task):
its state is unknown. The in-memory database lives in its one connection, so
discarding it lost every row and table. Here the interrupt arrives while a
session holds written, uncommitted rows, as it would from a signal handler or
`task.cancel()`: it reaches the caller as itself, the cut transaction is gone,
everything acknowledged before it is still there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from src import crud
from src.crud import aio
from src.database.async_connection import build_async_engine
from src.database.connection import build_engine, create_db_and_tables
from src.database.memory_pool import OneConnectionPool
from src.models import Todo, TodoCreate
from tests.conftest import add_user, add_user_async, settings_for, uid


@pytest.fixture
def memory() -> Iterator[Engine]:
    engine = build_engine(settings_for("sqlite://"))
    create_db_and_tables(engine)
    yield engine
    engine.dispose()


def cut_at(engine: Engine, interrupt: type[BaseException]) -> None:
    """`interrupt` arrives while `SELECT 'cut here'` runs, as Ctrl-C or a cancellation would."""

    @event.listens_for(engine, "before_cursor_execute")
    def _cut(*args: Any) -> None:
        if "cut here" in args[2]:  # the statement
            raise interrupt


def test_an_interrupted_session_loses_only_its_own_transaction(memory: Engine) -> None:
    """SQLAlchemy discards a connection an interrupt cut; in memory that was the database."""
    with Session(memory) as setup:
        owner = uid(add_user(setup, "ann@example.com"))
        crud.create_todo(setup, owner, TodoCreate(title="acknowledged"))
    cut_at(memory, KeyboardInterrupt)
    with Session(memory) as session:
        session.add(Todo(user_id=owner, title="cut"))
        session.flush()
        with pytest.raises(KeyboardInterrupt):
            session.execute(text("SELECT 'cut here'"))
    with Session(memory) as session:
        assert list(session.scalars(select(col(Todo.title)))) == ["acknowledged"]
    assert isinstance(memory.pool, OneConnectionPool)
    assert memory.pool.checkedout() == 0


async def test_a_cancelled_task_loses_only_its_own_transaction() -> None:
    engine = build_async_engine(settings_for("sqlite://"))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
        async with AsyncSession(engine) as setup:
            owner = await add_user_async(setup, "ann@example.com")
            await aio.create_todo(setup, owner, TodoCreate(title="acknowledged"))
        cut_at(engine.sync_engine, asyncio.CancelledError)
        async with AsyncSession(engine) as session:
            session.add(Todo(user_id=owner, title="cut"))
            await session.flush()
            with pytest.raises(asyncio.CancelledError):
                await (await session.connection()).execute(text("SELECT 'cut here'"))
        async with AsyncSession(engine) as session:
            assert (await session.exec(sqlmodel_select(Todo.title))).all() == ["acknowledged"]
        assert isinstance(engine.pool, OneConnectionPool)
        assert engine.pool.checkedout() == 0
    finally:
        await engine.dispose()
