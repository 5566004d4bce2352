"""The asyncio engine and `AsyncSession`s, from the same `Settings` as the blocking ones.

PostgreSQL goes through psycopg 3 (`postgresql+psycopg`), SQLite through
aiosqlite. psycopg 3 is libpq, like psycopg2 on the blocking path, so every
URL and query parameter means the same on both paths: `sslmode=verify-full`
with `sslrootcert` verifies the certificate, `channel_binding=require` binds
SCRAM to the TLS channel, `options`, `connect_timeout`, `application_name`
and `sslnegotiation` reach libpq as written, and an unknown one is refused
the same way. Server-side prepared statements are turned off
(`prepare_threshold=None`), so the engine works behind any transaction-mode
pooler (Neon's `-pooler` endpoint, PgBouncer) with no setting: a prepared
statement would be looked for on a server connection that never saw it.
Parameters are bound on the client (`psycopg_cursor.py`), as psycopg2 does,
so a statement and the naming of its user travel in one Query message.
research.md, section 15, records the measurements behind the choice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from src.config.settings import Settings, get_settings
from src.database import replicas, resilience
from src.database.engine_factory import engine_options, libpq_connect_args, prepare
from src.database.psycopg_cursor import LastResultCursor

_async_engine: AsyncEngine | None = None
_async_engine_lock = asyncio.Lock()


def async_url(settings: Settings) -> tuple[URL, dict[str, Any]]:
    """The asyncio driver's URL and connect arguments for `settings`."""
    url = settings.resolved_database_url
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite+aiosqlite"), {"timeout": 30, "check_same_thread": False}
    connect_args = {
        **libpq_connect_args(settings),
        "prepare_threshold": None,
        "cursor_factory": LastResultCursor,  # one Query message per statement and its user
    }
    return url.set(drivername="postgresql+psycopg"), connect_args


def build_async_engine(settings: Settings) -> AsyncEngine:
    """The asyncio counterpart of `build_engine`: same pool, retry and error policy."""
    url, connect_args = async_url(settings)
    options = engine_options(settings, resilience.GuardedAsyncQueuePool)
    engine = create_async_engine(url, **options, connect_args=connect_args)
    prepare(engine.sync_engine, settings)
    if settings.database_replica_urls:
        built = [build_async_engine(s).sync_engine for s in replicas.replica_settings(settings)]
        replicas.attach(engine.sync_engine, built, settings)
    return engine


async def get_async_engine() -> AsyncEngine:
    """The process-wide asyncio engine, created on first use."""
    global _async_engine
    async with _async_engine_lock:
        if _async_engine is None:
            _async_engine = build_async_engine(get_settings())
    return _async_engine


async def dispose_async_engine() -> None:
    global _async_engine
    async with _async_engine_lock:
        if _async_engine is not None:
            await _async_engine.dispose()
            _async_engine = None


def new_async_session(engine: AsyncEngine) -> AsyncSession:
    """SQLModel's `AsyncSession` (so `await session.exec(select(...))` works), never expiring
    its objects at commit: a reload after commit would need I/O outside the event loop."""
    return AsyncSession(engine, expire_on_commit=False)


async def get_async_session() -> AsyncIterator[AsyncSession]:
    """FastAPI dependency for `async def` endpoints: one session per request, always closed.

    Closing never raises because the connection is gone (see `closing.py`).
    """
    async with new_async_session(await get_async_engine()) as session:
        yield session


@asynccontextmanager
async def async_session_scope(engine: AsyncEngine | None = None) -> AsyncIterator[AsyncSession]:
    """Commit when the block succeeds, roll back when it raises (never masking its error)."""
    async with new_async_session(engine or await get_async_engine()) as session:
        yield session  # closing rolls back what was not committed
        await session.commit()
