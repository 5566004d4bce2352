"""`DB_POOL_SIZE=0`: no connection is held between sessions (serverless hosts), both paths."""

from __future__ import annotations

from sqlalchemy import literal, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool
from sqlmodel import select

from src.crud import aio
from src.database.async_connection import build_async_engine, new_async_session
from src.database.connection import build_engine, new_session
from tests.conftest import PostgresServer, settings_for

COUNT_MINE = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")


def open_connections(postgres_server: PostgresServer, name: str) -> int:
    engine = build_engine(settings_for(postgres_server.url))
    with engine.connect() as connection:
        count = int(connection.execute(COUNT_MINE, {"name": name}).scalar_one())
    engine.dispose()
    return count


def test_pool_size_zero_closes_each_connection_with_its_session(
    postgres_server: PostgresServer, postgres_app_url: URL
) -> None:
    name = "nullpool-blocking"
    engine = build_engine(settings_for(postgres_app_url, DB_POOL_SIZE=0, DB_APPLICATION_NAME=name))
    assert isinstance(engine.pool, NullPool)
    with new_session(engine) as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1
        assert open_connections(postgres_server, name) == 1
    assert open_connections(postgres_server, name) == 0
    engine.dispose()


async def test_async_pool_size_zero_closes_each_connection_with_its_session(
    postgres_server: PostgresServer, postgres_app_url: URL
) -> None:
    name = "nullpool-async"
    engine = build_async_engine(
        settings_for(postgres_app_url, DB_POOL_SIZE=0, DB_APPLICATION_NAME=name)
    )
    assert isinstance(engine.sync_engine.pool, NullPool)
    try:
        async with new_async_session(engine) as session:
            assert await aio.get_user(session, 1) is None
            # The operation ended its transaction: with no pool, its connection is closed.
            assert open_connections(postgres_server, name) == 0
            await session.exec(select(literal(1)))  # the caller's own transaction holds one
            assert open_connections(postgres_server, name) == 1
        assert open_connections(postgres_server, name) == 0
    finally:
        await engine.dispose()


def test_the_default_pool_keeps_a_connection_for_the_next_session(
    postgres_server: PostgresServer, postgres_app_url: URL
) -> None:
    name = "queuepool-blocking"
    engine = build_engine(settings_for(postgres_app_url, DB_APPLICATION_NAME=name))
    with new_session(engine) as session:
        session.execute(text("SELECT 1"))
    assert open_connections(postgres_server, name) == 1
    engine.dispose()
    assert open_connections(postgres_server, name) == 0
