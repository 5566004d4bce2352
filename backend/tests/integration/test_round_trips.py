"""Every single-statement operation is one round trip, and holds nothing after it returns.

The round-trip proxy stands for the network between a service and Neon: it
counts the times the client sends and then waits for an answer. Each
operation runs as a request runs it: a new session on a warm pooled
connection, the operation, the session closed; all of it is counted. Runs as
the least-privilege role (row security on), directly and through PgBouncer in
transaction mode (Neon's `-pooler` shape), on the blocking and asyncio paths.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from src import crud
from src.crud import aio
from src.crud.statements import BULK_BATCH
from src.database.async_connection import build_async_engine
from src.database.connection import build_engine
from src.models import TodoCreate, TodoUpdate, UserCreate
from tests.conftest import settings_for, tid, uid
from tests.standins.round_trip_proxy import RoundTripProxy

PASSWORD = SecretStr("a long enough password")


@pytest.fixture(params=["direct", "pooler"])
def through_proxy(request: pytest.FixtureRequest) -> Iterator[tuple[URL, RoundTripProxy]]:
    """The application role's URL, pointed at a counting proxy in front of the server."""
    if request.param == "direct":
        url: URL = request.getfixturevalue("postgres_app_url")
    else:
        url = request.getfixturevalue("neon_like_app_url")
    assert url.host is not None
    assert url.port is not None
    with RoundTripProxy(url.host, url.port) as proxy:
        yield url.set(port=proxy.port), proxy


Operation = Callable[[Session, int, int], object]

SINGLE_STATEMENT: dict[str, Operation] = {
    "create_todo": lambda s, u, _t: crud.create_todo(s, u, TodoCreate(title="new")),
    "create_todos (one batch)": lambda s, u, _t: crud.create_todos(
        s, u, [TodoCreate(title=f"b{i}") for i in range(BULK_BATCH)]
    ),
    "get_todo": crud.get_todo,
    "list_todos": lambda s, u, _t: crud.list_todos(s, u, limit=5),
    "count_todos": lambda s, u, _t: crud.count_todos(s, u),
    "update_todo": lambda s, u, t: crud.update_todo(s, u, t, TodoUpdate(title="changed")),
    "set_completed": lambda s, u, t: crud.set_completed(s, u, t, True),
    "toggle_completed": crud.toggle_completed,
    "get_user": lambda s, u, _t: crud.get_user(s, u),
    "get_user_by_email": lambda s, _u, _t: crud.get_user_by_email(s, "rt@example.com"),
    "authenticate": lambda s, _u, _t: crud.authenticate(s, "rt@example.com", PASSWORD),
    "delete_todo": crud.delete_todo,
}


def _setup(engine: Engine) -> tuple[int, int]:
    _remove("rt@example.com", engine)  # left by an earlier run that failed half-way
    with Session(engine) as session:
        email = f"{uuid.uuid4().hex[:8]}-rt@example.com"
        user = crud.create_user(session, UserCreate(email=email, password=PASSWORD))
        user.email = "rt@example.com"  # the lookups below use a fixed address
        session.commit()
        todo = crud.create_todo(session, uid(user), TodoCreate(title="held"))
        return uid(user), tid(todo)


def test_every_single_statement_operation_is_one_round_trip(
    through_proxy: tuple[URL, RoundTripProxy],
) -> None:
    url, proxy = through_proxy
    engine = build_engine(settings_for(url))
    try:
        user_id, todo_id = _setup(engine)
        counted: dict[str, int] = {}
        for name, operation in SINGLE_STATEMENT.items():
            with proxy.counting() as exchanges, Session(engine) as session:
                operation(session, user_id, todo_id)
            counted[name] = exchanges[0]
        with proxy.counting() as exchanges, Session(engine) as session:
            crud.create_user(session, UserCreate(email="other-rt@example.com", password=PASSWORD))
        counted["create_user"] = exchanges[0]
        with proxy.counting() as exchanges, Session(engine) as session:
            crud.delete_user(session, user_id)
        counted["delete_user"] = exchanges[0]
        assert counted == dict.fromkeys(counted, 1)
    finally:
        for email in ("rt@example.com", "other-rt@example.com"):
            _remove(email, engine)
        engine.dispose()


def _remove(email: str, engine: Engine) -> None:
    with Session(engine) as session:
        user = crud.get_user_by_email(session, email)
        if user is not None:
            crud.delete_user(session, uid(user))


def test_every_single_statement_operation_is_one_round_trip_on_the_async_path(
    through_proxy: tuple[URL, RoundTripProxy],
) -> None:
    url, proxy = through_proxy

    async def run() -> dict[str, int]:
        engine = build_async_engine(settings_for(url))
        try:
            return await _count_async(engine, proxy)
        finally:
            await engine.dispose()

    counted = asyncio.run(run())
    assert counted == dict.fromkeys(counted, 1)


async def _count_async(engine: AsyncEngine, proxy: RoundTripProxy) -> dict[str, int]:
    counted: dict[str, int] = {}

    async def count(name: str, operation: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        with proxy.counting() as exchanges:
            async with AsyncSession(engine) as session:
                result = await operation(session)
        counted[name] = exchanges[0]
        return result

    async with AsyncSession(engine) as session:  # warm the pool: connecting is not counted
        await aio.get_user(session, 1)
    email = f"{uuid.uuid4().hex[:8]}-art@example.com"
    user = await count(
        "create_user", lambda s: aio.create_user(s, UserCreate(email=email, password=PASSWORD))
    )
    u = uid(user)
    todo = await count("create_todo", lambda s: aio.create_todo(s, u, TodoCreate(title="new")))
    t = tid(todo)
    batch = [TodoCreate(title=f"b{i}") for i in range(BULK_BATCH)]
    await count("create_todos (one batch)", lambda s: aio.create_todos(s, u, batch))
    await count("get_todo", lambda s: aio.get_todo(s, u, t))
    await count("list_todos", lambda s: aio.list_todos(s, u, limit=5))
    await count("count_todos", lambda s: aio.count_todos(s, u))
    await count("update_todo", lambda s: aio.update_todo(s, u, t, TodoUpdate(title="changed")))
    await count("set_completed", lambda s: aio.set_completed(s, u, t, True))
    await count("toggle_completed", lambda s: aio.toggle_completed(s, u, t))
    await count("get_user", lambda s: aio.get_user(s, u))
    await count("get_user_by_email", lambda s: aio.get_user_by_email(s, email))
    await count("authenticate", lambda s: aio.authenticate(s, email, PASSWORD))
    await count("delete_todo", lambda s: aio.delete_todo(s, u, t))
    await count("delete_user", lambda s: aio.delete_user(s, u))
    return counted


def test_a_bulk_create_of_several_batches_is_one_transaction_of_batches_plus_two(
    through_proxy: tuple[URL, RoundTripProxy],
) -> None:
    url, proxy = through_proxy
    engine = build_engine(settings_for(url))
    try:
        user_id, _ = _setup(engine)
        items = [TodoCreate(title=f"item {i}") for i in range(2 * BULK_BATCH + 1)]
        with proxy.counting() as exchanges, Session(engine) as session:
            assert crud.create_todos(session, user_id, items) == len(items)
        assert exchanges == [3 + 2]  # BEGIN, three batches, COMMIT
        with Session(engine) as session:
            assert crud.count_todos(session, user_id).total == len(items) + 1
    finally:
        _remove("rt@example.com", engine)
        engine.dispose()
