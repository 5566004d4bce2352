"""The asyncio path meets Neon exactly as the blocking path does (`test_resilience.py`).

Same stand-in: Neon's proxy in front of a TLS-only cluster and PgBouncer in
transaction mode, reached by endpoint host name. psycopg 3 is the driver, with
no setting for the pooler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from src.crud import aio
from src.database.async_connection import build_async_engine, new_async_session
from src.errors import DatabaseConnectionError
from src.models import TodoCreate, User
from tests.conftest import KNOWN_PASSWORD_HASH, settings_for
from tests.standins.neon_local import PASSWORD, NeonLikeServer
from tests.standins.neon_proxy import COULD_NOT_CONNECT, NO_PERMIT, NeonProxy

pytestmark = pytest.mark.usefixtures("clean_users")


@pytest.fixture
async def engine(endpoint_url: URL) -> AsyncIterator[AsyncEngine]:
    engine = build_async_engine(settings_for(endpoint_url, DB_CONNECT_RETRY_BUDGET_S=10))
    yield engine
    await engine.dispose()


async def ping(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        query = text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        return bool(await connection.scalar(query))


async def add_owner(engine: AsyncEngine) -> int:
    async with new_async_session(engine) as session:
        user = User.model_validate(
            {"email": "o@example.com", "hashed_password": KNOWN_PASSWORD_HASH}
        )
        session.add(user)
        await session.commit()
        assert user.id is not None
        return user.id


@pytest.mark.parametrize("refusal", ["suspended", "no permit"])
async def test_neons_not_now_answers_are_retried_until_the_compute_answers(
    proxy: NeonProxy, engine: AsyncEngine, refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    if refusal == "suspended":
        proxy.suspend(wake_after_s=1.0)
    else:
        proxy.refuse_permits(3)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        assert await ping(engine) is True
    expected = COULD_NOT_CONNECT if refusal == "suspended" else NO_PERMIT
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries
    assert all(expected in message and "postgresql+psycopg://" in message for message in retries)
    assert refusal != "suspended" or time.monotonic() - started >= 1.0
    assert PASSWORD not in caplog.text


async def test_a_compute_that_never_wakes_fails_within_the_budget(
    proxy: NeonProxy, endpoint_url: URL
) -> None:
    engine = build_async_engine(settings_for(endpoint_url, DB_CONNECT_RETRY_BUDGET_S=1.5))
    proxy.suspend(wake_after_s=600)
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseConnectionError, match=r"attempt.*Couldn't connect") as caught:
            await ping(engine)
    finally:
        await engine.dispose()
    assert 0.5 < time.monotonic() - started < 1.5 + 2
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"password": "wrong-password"}, "(password|SASL) authentication failed"),
        ({"database": "no_such_database"}, "does not exist"),
    ],
)
async def test_login_and_missing_database_errors_are_not_retried(
    endpoint_url: URL, change: dict[str, Any], expected: str
) -> None:
    engine = build_async_engine(settings_for(endpoint_url.set(**change)))
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseConnectionError, match=rf"{expected}.*\(not retried\)") as e:
            await ping(engine)
    finally:
        await engine.dispose()
    assert time.monotonic() - started < 2
    assert "wrong-password" not in str(e.value)
    assert PASSWORD not in str(e.value)


async def test_dropped_connections_are_replaced_without_the_caller_noticing(
    proxy: NeonProxy, engine: AsyncEngine
) -> None:
    owner = await add_owner(engine)
    async with new_async_session(engine) as session:
        await aio.create_todo(session, owner, TodoCreate(title="before"))
    assert proxy.drop_connections() >= 1  # a suspend: the socket is simply gone
    await asyncio.sleep(0.2)  # the close reaches the idle socket
    async with new_async_session(engine) as session:
        await aio.create_todo(session, owner, TodoCreate(title="after"))
        assert (await aio.count_todos(session, owner)).total == 2


async def test_a_transaction_cut_off_mid_way_fails_with_the_packages_error(
    server: NeonLikeServer, engine: AsyncEngine
) -> None:
    await add_owner(engine)
    async with new_async_session(engine) as session:
        session.add_all(
            [
                User.model_validate(
                    {"email": f"half{i}@example.com", "hashed_password": KNOWN_PASSWORD_HASH}
                )
                for i in range(3)
            ]
        )
        await session.flush()
        server.terminate_backends()
        with pytest.raises(DatabaseConnectionError, match="lost the connection") as caught:
            await session.commit()
    assert PASSWORD not in str(caught.value)
    async with engine.connect() as connection:
        assert await connection.scalar(text('SELECT count(*) FROM "user"')) == 1


async def test_concurrent_requests_through_the_pooler_all_succeed(
    server: NeonLikeServer, proxy: NeonProxy
) -> None:
    """The failure users met with asyncpg: prepared statements lost between server connections.

    Forty concurrent "requests" through PgBouncer in transaction mode, with no
    pooler setting, must all succeed.
    """
    engine = build_async_engine(
        settings_for(proxy.url(server.direct_url(), pooler=True), DB_POOL_SIZE=10)
    )
    try:
        owner = await add_owner(engine)

        async def request(i: int) -> int:
            async with new_async_session(engine) as session:
                await aio.create_todo(session, owner, TodoCreate(title=f"r{i}"))
                return (await aio.count_todos(session, owner)).total

        results = await asyncio.gather(*(request(i) for i in range(40)), return_exceptions=True)
    finally:
        await engine.dispose()
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert max(r for r in results if isinstance(r, int)) == 40
