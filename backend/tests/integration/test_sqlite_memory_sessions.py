"""Sessions on the in-memory database are each all or nothing, from any thread or task.

The in-memory database (`sqlite://`, the embedded and test default) is one
connection. Sessions in threads and asyncio tasks take turns with it, one
transaction at a time: every create acknowledged is there afterwards, every
one that failed is not, and nothing crashes. Each worker holds its
transaction open across a pause, so turns would interleave if they could. A
thread or task asking again while it holds the connection is refused at once.
On SQLite a write after a read succeeds while other sessions write, in memory
and in a file.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from src import crud
from src.database.async_connection import build_async_engine
from src.database.connection import build_engine, create_db_and_tables
from src.database.migrations import upgrade_to_head
from src.errors import InMemoryDatabaseBusyError
from src.models import Todo, TodoCreate
from tests.conftest import add_user, add_user_async, settings_for, uid

WORKERS = 8
ROUNDS = 25


class PlannedError(Exception):
    """The failure a worker raises on purpose, after writing, before committing."""


def fails(worker: int, round_: int) -> bool:
    return (worker + round_) % 3 == 0


@pytest.fixture
def memory() -> Iterator[Engine]:
    engine = build_engine(settings_for("sqlite://", DB_POOL_TIMEOUT_S=60))
    create_db_and_tables(engine)
    yield engine
    engine.dispose()


def stored_titles(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.scalars(select(col(Todo.title))))


def test_sessions_in_threads_are_each_all_or_nothing(memory: Engine) -> None:
    with Session(memory) as setup:
        owner = uid(add_user(setup, "ann@example.com"))
    start = threading.Barrier(WORKERS)

    def work(worker: int) -> tuple[list[str], list[str]]:
        start.wait()
        acknowledged, failed = [], []
        for round_ in range(ROUNDS):
            title = f"{worker}/{round_}"
            try:
                with Session(memory) as session:
                    if round_ % 4 == 1:  # an operation of the package, acknowledged or not
                        crud.create_todo(session, owner, TodoCreate(title=title))
                        continue
                    session.add(Todo(user_id=owner, title=title))
                    session.flush()  # written, in a transaction held across a pause
                    time.sleep(0.0005)
                    if fails(worker, round_):
                        raise PlannedError
                    session.commit()
            except PlannedError:
                failed.append(title)
            finally:
                if title not in failed:
                    acknowledged.append(title)
        return acknowledged, failed

    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(work, range(WORKERS)))  # any other error fails the test
    acknowledged = sorted(title for done, _ in outcomes for title in done)
    assert len(acknowledged) + sum(len(failed) for _, failed in outcomes) == WORKERS * ROUNDS
    assert stored_titles(memory) == acknowledged


async def test_sessions_in_asyncio_tasks_are_each_all_or_nothing() -> None:
    engine = build_async_engine(settings_for("sqlite://", DB_POOL_TIMEOUT_S=60))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
        async with AsyncSession(engine) as setup:
            owner = await add_user_async(setup, "ann@example.com")

        async def work(worker: int) -> list[str]:
            acknowledged = []
            for round_ in range(ROUNDS):
                title = f"{worker}/{round_}"
                try:
                    async with AsyncSession(engine) as session:
                        session.add(Todo(user_id=owner, title=title))
                        await session.flush()
                        await asyncio.sleep(0)  # another task runs while this one holds
                        if fails(worker, round_):
                            raise PlannedError
                        await session.commit()
                except PlannedError:
                    continue
                acknowledged.append(title)
            return acknowledged

        outcomes = await asyncio.gather(*(work(worker) for worker in range(WORKERS)))
        async with AsyncSession(engine) as session:
            stored = sorted((await session.exec(sqlmodel_select(Todo.title))).all())
        assert stored == sorted(title for done in outcomes for title in done)
        assert 0 < len(stored) < WORKERS * ROUNDS
    finally:
        await engine.dispose()


def test_a_second_session_in_the_thread_holding_the_connection_is_refused_at_once(
    memory: Engine,
) -> None:
    with Session(memory) as holding, Session(memory) as second:
        holding.execute(select(func.count()).select_from(Todo))  # its transaction is open
        with pytest.raises(InMemoryDatabaseBusyError, match=r"already holds .* file database"):
            second.execute(select(func.count()).select_from(Todo))
        holding.rollback()
        assert second.execute(select(func.count()).select_from(Todo)).scalar() == 0


async def test_a_second_session_in_the_task_holding_the_connection_is_refused_at_once() -> None:
    engine = build_async_engine(settings_for("sqlite://", DB_POOL_TIMEOUT_S=60))
    try:
        async with AsyncSession(engine) as holding, AsyncSession(engine) as second:
            await holding.exec(sqlmodel_select(1))
            with pytest.raises(InMemoryDatabaseBusyError, match="this task already holds"):
                await second.exec(sqlmodel_select(1))
            await holding.commit()
            assert (await second.exec(sqlmodel_select(1))).one() == 1
    finally:
        await engine.dispose()


def test_waiting_past_the_pool_timeout_is_a_typed_error_that_says_what_to_do() -> None:
    engine = build_engine(settings_for("sqlite://", DB_POOL_TIMEOUT_S=0.2))
    try:
        with Session(engine) as holding:
            holding.execute(select(1))
            with ThreadPoolExecutor(1) as other:
                waited = other.submit(lambda: Session(engine).execute(select(1)))
                with pytest.raises(InMemoryDatabaseBusyError, match="DB_POOL_TIMEOUT_S"):
                    waited.result()
    finally:
        engine.dispose()


@pytest.mark.parametrize("where", ["memory", "file"])
def test_on_sqlite_a_write_after_a_read_succeeds_while_other_sessions_write(
    where: str, tmp_path: Path
) -> None:
    url = "sqlite://" if where == "memory" else f"sqlite:///{tmp_path / 'todo.db'}"
    engine = build_engine(settings_for(url))
    try:
        upgrade_to_head(engine)
        with Session(engine) as setup:
            owner = uid(add_user(setup, "ann@example.com"))
        start = threading.Barrier(WORKERS)

        def work(worker: int) -> int:
            start.wait()
            with Session(engine) as session:
                for round_ in range(ROUNDS):
                    crud.count_todos(session, owner)  # a read, then this session's write
                    crud.create_todo(session, owner, TodoCreate(title=f"{worker}/{round_}"))
            return ROUNDS

        with ThreadPoolExecutor(WORKERS) as pool:
            assert sum(pool.map(work, range(WORKERS))) == WORKERS * ROUNDS
        with Session(engine) as session:
            assert crud.count_todos(session, owner).total == WORKERS * ROUNDS
    finally:
        engine.dispose()
