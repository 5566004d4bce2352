"""The service's database lifespan: check the schema before serving, close the pools after.

At start-up the database's Alembic revision is compared with the package's
head (one query, on a connection opened for it and closed again, so no pool
is built that the service would not use). A database that was never
migrated, or is at another release's revision, stops the server before its
first request with one line naming the command that fixes it, instead of
answering 500 at the first request. A database that cannot be reached yet
(a Neon compute still waking, a network blip) does not stop the server: the
requests answer 503 until it is back, and the check is logged as skipped.

uvicorn logs a failed start-up with the whole traceback Starlette formats
(twenty lines of frameworks above the line that matters). A refusal of this
package (`DataLayerError`: a setting that breaks its rule, a schema at
another revision) already says everything in its message, so that log
record is cut to one line: `refusing to start: <the message>`. The
exception itself still propagates, so any server stops as before.

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
from src.errors import DatabaseConnectionError, DataLayerError

logger = logging.getLogger(__name__)


def check_schema_revision() -> None:
    """`require_head_revision` on a connection of its own (no pool is left behind)."""
    settings = get_settings()  # logs where DATABASE_URL came from; a broken rule stops here
    engine = build_engine(settings.model_copy(update={"pool_size": 0}))
    try:
        revision = require_head_revision(engine)
    except DatabaseConnectionError as exc:
        logger.warning("schema revision not checked at start-up: %s", exc)
    else:
        logger.info("database schema at revision %s, as this package expects", revision)
    finally:
        engine.dispose()


class OneLineRefusal(logging.Filter):
    """Cut a logged traceback that ends in `refusal` to the refusal's own line."""

    def __init__(self, refusal: DataLayerError) -> None:
        super().__init__()
        self.last_line = f"{type(refusal).__module__}.{type(refusal).__qualname__}: {refusal}"
        self.line = f"refusing to start: {refusal}"

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.rstrip().endswith(self.last_line):
            record.msg, record.args, record.exc_info, record.exc_text = self.line, (), None, None
        return True


@asynccontextmanager
async def database_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Refuse to start on a database at another revision; dispose the pools at shutdown."""
    try:
        await asyncio.to_thread(check_schema_revision)
    except DataLayerError as refusal:
        server_log = logging.getLogger("uvicorn.error")
        for earlier in [f for f in server_log.filters if isinstance(f, OneLineRefusal)]:
            server_log.removeFilter(earlier)  # one at a time, however often start-up fails
        server_log.addFilter(OneLineRefusal(refusal))
        raise
    try:
        yield
    finally:
        await dispose_async_engine()
        dispose_engine()
