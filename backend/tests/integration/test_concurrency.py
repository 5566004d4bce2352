"""Races on PostgreSQL: real threads, real commits, separate connections."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import TypeVar

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.engine import URL
from sqlmodel import SQLModel

from src import crud
from src.database.connection import build_engine, new_session
from src.errors import DuplicateEmailError
from src.models import Todo, TodoCreate, TodoUpdate, User, UserCreate
from tests.conftest import add_user, settings_for

THREADS = 20
T = TypeVar("T")


@pytest.fixture(scope="module")
def pg_engine(postgres_url: URL) -> Iterator[Engine]:
    engine = build_engine(settings_for(postgres_url, DB_POOL_SIZE=THREADS, DB_MAX_OVERFLOW=0))
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clean(pg_engine: Engine) -> Iterator[Engine]:
    yield pg_engine
    with pg_engine.begin() as connection:
        connection.execute(delete(Todo))
        connection.execute(delete(User))


def race(engine: Engine, work: Callable[[int], T]) -> list[T | Exception]:
    """Run `work(i)` in THREADS threads released at the same instant."""
    start = Barrier(THREADS)

    def one(i: int) -> T | Exception:
        start.wait()
        try:
            return work(i)
        except Exception as exc:  # collected and inspected by the test
            return exc

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def test_twenty_registrations_of_one_email_yield_one_user(clean: Engine) -> None:
    spellings = ["race@example.com", "Race@Example.com", "RACE@EXAMPLE.COM", "race@EXAMPLE.com"]

    def register(i: int) -> User:
        with new_session(clean) as session:
            data = UserCreate(email=spellings[i % 4], password=SecretStr("long enough pw"))
            return crud.create_user(session, data)

    outcomes = race(clean, register)
    users = [o for o in outcomes if isinstance(o, User)]
    duplicates = [o for o in outcomes if isinstance(o, DuplicateEmailError)]
    assert (len(users), len(duplicates)) == (1, THREADS - 1), outcomes
    with new_session(clean) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


@pytest.fixture
def shared_todo(clean: Engine) -> tuple[int, int]:
    with new_session(clean) as session:
        user = add_user(session, "t@example.com")
        assert user.id is not None
        todo = crud.create_todo(session, user.id, TodoCreate(title="shared"))
        assert todo.id is not None
        return user.id, todo.id


def test_concurrent_toggles_lose_no_update(clean: Engine, shared_todo: tuple[int, int]) -> None:
    user_id, todo_id = shared_todo
    toggles_each = 5

    def toggle(_: int) -> None:
        with new_session(clean) as session:
            for _ in range(toggles_each):
                crud.toggle_completed(session, user_id, todo_id)

    assert all(outcome is None for outcome in race(clean, toggle))
    with new_session(clean) as session:
        # 100 toggles from False: an even count lands back on False only if none was lost.
        assert crud.get_todo(session, user_id, todo_id).completed is (
            THREADS * toggles_each % 2 == 1
        )


def test_concurrent_partial_updates_of_different_fields_all_survive(
    clean: Engine, shared_todo: tuple[int, int]
) -> None:
    user_id, todo_id = shared_todo

    def update(i: int) -> None:
        change = TodoUpdate(title=f"title {i}") if i % 2 else TodoUpdate(description=f"desc {i}")
        with new_session(clean) as session:
            crud.update_todo(session, user_id, todo_id, change)
            crud.toggle_completed(session, user_id, todo_id)

    assert all(outcome is None for outcome in race(clean, update))
    with new_session(clean) as session:
        todo = crud.get_todo(session, user_id, todo_id)
    assert todo.title.startswith("title ")
    assert todo.description is not None
    assert todo.description.startswith("desc ")
    assert todo.completed is (THREADS % 2 == 1)
