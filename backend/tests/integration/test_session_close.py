"""Ending a session never raises because its connection is gone (blocking and asyncio).

A FastAPI dependency closes its session after the response was sent; when the
backend died in between (a suspend, a restart, `pg_terminate_backend`), closing
logs one warning and returns. An error inside a `session_scope` block stays the
error the caller sees; a commit that cannot reach the server still raises.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import closing

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Session

from src.database import async_connection, connection
from src.database.async_connection import (
    async_session_scope,
    build_async_engine,
    get_async_session,
)
from src.database.connection import build_engine, get_session, session_scope
from src.errors import DatabaseConnectionError
from tests.conftest import settings_for
from tests.standins.neon_local import PASSWORD, NeonLikeServer

SELECT_1 = text("SELECT 1")


@pytest.fixture
def engine(endpoint_url: URL, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The process-wide engine, pointed at the stand-in for this test."""
    engine = build_engine(settings_for(endpoint_url))
    monkeypatch.setattr(connection, "_engine", engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def async_engine(
    endpoint_url: URL, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncEngine]:
    engine = build_async_engine(settings_for(endpoint_url))
    monkeypatch.setattr(async_connection, "_async_engine", engine)
    yield engine
    await engine.dispose()


def closing_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "src.database.closing"]


def test_the_request_dependency_closes_quietly_after_the_backend_died(
    server: NeonLikeServer, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    del engine
    dependency = get_session()
    session = next(dependency)
    session.connection().execute(SELECT_1)  # a transaction is open on the server
    assert server.terminate_backends() >= 1
    with caplog.at_level(logging.WARNING):
        assert next(dependency, "closed") == "closed"  # what FastAPI does after the response
    warnings = closing_warnings(caplog)
    assert len(warnings) == 1
    assert "connection was already gone" in warnings[0]
    assert PASSWORD not in caplog.text


async def test_the_async_request_dependency_closes_quietly_after_the_backend_died(
    server: NeonLikeServer, async_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    del async_engine
    dependency = get_async_session()
    session = await anext(dependency)
    await (await session.connection()).execute(SELECT_1)  # a transaction is open
    assert server.terminate_backends() >= 1
    with caplog.at_level(logging.WARNING):
        assert await anext(dependency, "closed") == "closed"
    assert len(closing_warnings(caplog)) == 1
    assert PASSWORD not in caplog.text


def test_a_scope_keeps_its_own_error_when_the_rollback_cannot_reach_the_server(
    server: NeonLikeServer, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with (  # noqa: PT012
        caplog.at_level(logging.WARNING),
        pytest.raises(LookupError, match="the block's own"),
        session_scope(engine) as session,
    ):
        session.connection().execute(SELECT_1)  # a transaction is open on the server
        server.terminate_backends()
        raise LookupError("the block's own error")
    assert len(closing_warnings(caplog)) == 1


async def test_an_async_scope_keeps_its_own_error_when_the_rollback_cannot_reach_the_server(
    server: NeonLikeServer, async_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(LookupError, match="the block's own"):  # noqa: PT012
        async with async_session_scope(async_engine) as session:
            await (await session.connection()).execute(SELECT_1)  # a transaction is open
            server.terminate_backends()
            raise LookupError("the block's own error")
    assert len(closing_warnings(caplog)) == 1


def test_a_commit_that_cannot_reach_the_server_still_raises(
    server: NeonLikeServer, engine: Engine
) -> None:
    with (  # noqa: PT012
        pytest.raises(DatabaseConnectionError, match="lost the connection"),
        session_scope(engine) as session,
    ):
        session.connection().execute(SELECT_1)  # a transaction is open on the server
        server.terminate_backends()


async def test_an_async_commit_that_cannot_reach_the_server_still_raises(
    server: NeonLikeServer, async_engine: AsyncEngine
) -> None:
    with pytest.raises(DatabaseConnectionError, match="lost the connection"):  # noqa: PT012
        async with async_session_scope(async_engine) as session:
            await (await session.connection()).execute(SELECT_1)  # a transaction is open
            server.terminate_backends()


def test_a_session_made_by_hand_closes_quietly_after_the_backend_died(
    server: NeonLikeServer, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """`with new_session() as s:` and SQLModel's `with Session(engine) as s:` alike."""
    for make in (connection.new_session, Session):
        with caplog.at_level(logging.WARNING), make(engine) as session:
            session.connection().execute(SELECT_1)  # a transaction is open on the server
            assert server.terminate_backends() >= 1
        assert len(closing_warnings(caplog)) == 1
        caplog.clear()
        with make(engine) as session:  # the dead connection was discarded, not handed out
            assert session.execute(SELECT_1).scalar_one() == 1
    assert PASSWORD not in caplog.text


async def test_an_async_session_made_by_hand_closes_quietly_after_the_backend_died(
    server: NeonLikeServer, async_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with async_connection.new_async_session(async_engine) as session:
            await (await session.connection()).execute(SELECT_1)  # a transaction is open
            assert server.terminate_backends() >= 1
    assert len(closing_warnings(caplog)) == 1
    async with async_connection.new_async_session(async_engine) as session:
        assert (await (await session.connection()).execute(SELECT_1)).scalar_one() == 1
    assert PASSWORD not in caplog.text


def test_a_rollback_that_cannot_reach_the_server_discards_only_its_own_connection(
    server: NeonLikeServer, engine: Engine
) -> None:
    def driver_connection(session: Session) -> object:
        return session.connection().connection.dbapi_connection

    with connection.new_session(engine) as first, connection.new_session(engine) as second:
        first.execute(SELECT_1)
        survivor = driver_connection(first)
        second.execute(SELECT_1)
        victim_pid = second.execute(text("SELECT pg_backend_pid()")).scalar_one()
        first.commit()  # back in the pool, idle
        with closing(server.admin()) as admin, admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (victim_pid,))
        second.rollback()  # quiet
    with connection.new_session(engine) as first, connection.new_session(engine) as second:
        assert first.execute(SELECT_1).scalar_one() == second.execute(SELECT_1).scalar_one()
        # The survivor is still pooled; the victim's place was taken by a new connection.
        assert survivor in (driver_connection(first), driver_connection(second))
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # a QueuePool
