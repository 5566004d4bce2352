"""A lifespan that closes the database pools when the server stops.

Without it a worker that exits leaves its pooled connections to be cut by
the server (or by Neon's idle timeout) instead of closing them politely.
Either engine is disposed only if this process built it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from src.database.async_connection import dispose_async_engine
from src.database.connection import dispose_engine


@asynccontextmanager
async def close_database_on_shutdown(_app: FastAPI) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await dispose_async_engine()
        dispose_engine()
