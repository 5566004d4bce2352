"""The service's database lifespan: check the schema before serving, close the pools after.

At start-up the database's Alembic revision is compared with the package's
head (one query, on a connection opened for it and closed again, so no pool
is built that the service would not use). A database that was never
migrated, or is at another release's revision, stops the server before its
first request with one line naming the command that fixes it, instead of
answering 500 at the first request. A database that cannot be reached yet
(a Neon compute still waking, a network blip) does not stop the server: the
requests answer 503 until it is back, and the check is logged as skipped.

At shutdown, both engines are disposed if this process built them, so a
worker that exits closes its pooled connections instead of leaving them to
the server's (or Neon's) idle timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from src.config.settings import get_settings
from src.database.async_connection import dispose_async_engine
from src.database.connection import build_engine, dispose_engine
from src.database.revision_check import require_head_revision
from src.errors import DatabaseConnectionError

logger = logging.getLogger(__name__)


def check_schema_revision() -> None:
    """`require_head_revision` on a connection of its own (no pool is left behind)."""
    engine = build_engine(get_settings().model_copy(update={"pool_size": 0}))
    try:
        revision = require_head_revision(engine)
    except DatabaseConnectionError as exc:
        logger.warning("schema revision not checked at start-up: %s", exc)
    else:
        logger.info("database schema at revision %s, as this package expects", revision)
    finally:
        engine.dispose()


@asynccontextmanager
async def database_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Refuse to start on a database at another revision; dispose the pools at shutdown."""
    await asyncio.to_thread(check_schema_revision)
    try:
        yield
    finally:
        await dispose_async_engine()
        dispose_engine()
