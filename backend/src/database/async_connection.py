"""The asyncio engine and `AsyncSession`s, from the same `Settings` as the blocking ones.

PostgreSQL goes through asyncpg, SQLite through aiosqlite. asyncpg does not
read libpq URL parameters, so Neon's `sslmode` becomes asyncpg's `ssl`
argument and `channel_binding` (which asyncpg cannot do) is dropped. Behind a
transaction-mode pooler (Neon's `-pooler` endpoint, PgBouncer) asyncpg's
prepared-statement caches are turned off and statement names made unique, as
SQLAlchemy's documentation prescribes; a cached statement would otherwise be
looked for on a server connection that never saw it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from src.config.settings import Settings, get_settings
from src.database import resilience
from src.database.connection import engine_options, prepare

_async_engine: AsyncEngine | None = None
_async_engine_lock = asyncio.Lock()


def async_url(settings: Settings) -> tuple[URL, dict[str, Any]]:
    """The asyncio driver's URL and connect arguments for `settings`."""
    url = settings.resolved_database_url
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite+aiosqlite"), {"timeout": 30, "check_same_thread": False}
    query: dict[str, Any] = dict(url.query)
    sslmode = query.pop("sslmode", None)
    query.pop("channel_binding", None)
    connect_args: dict[str, Any] = {
        "timeout": settings.connect_timeout_s,
        "server_settings": {"application_name": settings.application_name},
    }
    if sslmode is not None:
        connect_args["ssl"] = sslmode
    if settings.behind_transaction_pooler:
        query["prepared_statement_cache_size"] = "0"
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = _unique_statement_name
    return url.set(drivername="postgresql+asyncpg", query=query), connect_args


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4()}__"


def build_async_engine(settings: Settings) -> AsyncEngine:
    """The asyncio counterpart of `build_engine`: same pool, retry and error policy."""
    url, connect_args = async_url(settings)
    options = engine_options(settings, resilience.GuardedAsyncQueuePool)
    engine = create_async_engine(url, **options, connect_args=connect_args)
    prepare(engine.sync_engine, settings)
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
    """FastAPI dependency for `async def` endpoints: one session per request, always closed."""
    async with new_async_session(await get_async_engine()) as session:
        yield session


@asynccontextmanager
async def async_session_scope(engine: AsyncEngine | None = None) -> AsyncIterator[AsyncSession]:
    """Commit when the block succeeds, roll back when it raises."""
    async with new_async_session(engine or await get_async_engine()) as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
