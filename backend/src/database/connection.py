"""The process-wide engine and its sessions, and the connection check.

The engine is built once per process, on first use, by the one engine
factory in `engine_factory.py` (whose names are re-exported here, where they have
always been documented); importing this module opens nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel

from src import models as _models  # noqa: F401  registers the tables on the metadata
from src.config.settings import get_settings
from src.database import resilience
from src.database.engine_factory import (
    build_engine,
    engine_options,
    is_memory_sqlite,
    libpq_connect_args,
    masked_url,
    prepare,
)
from src.errors import DatabaseConnectionError

__all__ = [
    "ConnectionReport",
    "build_engine",
    "check_connection",
    "create_db_and_tables",
    "dispose_engine",
    "engine_options",
    "get_engine",
    "get_session",
    "is_memory_sqlite",
    "libpq_connect_args",
    "masked_url",
    "new_session",
    "prepare",
    "session_scope",
]

logger = logging.getLogger(__name__)

_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """The process-wide engine, created on first use (importing opens no connection)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = build_engine(get_settings())
                logger.info("database engine created for %s", masked_url(_engine.url))
    return _engine


def dispose_engine() -> None:
    """Close every pooled connection and forget the engine; the next use builds a new one."""
    global _engine
    with _engine_lock:
        if _engine is not None:
            _engine.dispose()
            _engine = None


def new_session(engine: Engine | None = None) -> Session:
    """A session whose objects stay readable after commit (no reload round trip)."""
    return Session(engine or get_engine(), expire_on_commit=False)


def get_session() -> Generator[Session, None, None]:
    """FastAPI dependency: one session per request, always closed.

    The caller commits; whatever it did not commit is rolled back on close.
    Closing never raises because the connection is gone (see `closing.py`).
    """
    with new_session() as session:
        yield session


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """For scripts and jobs: commit when the block succeeds, roll back when it raises.

    A failed commit raises; a failed rollback or close (connection gone) does not.
    """
    with new_session(engine) as session:  # closing rolls back what was not committed
        yield session
        session.commit()


def create_db_and_tables(engine: Engine | None = None) -> None:
    """Create any missing table and index (tests; real databases use migrations)."""
    SQLModel.metadata.create_all(engine or get_engine())


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    backend: str
    server_version: str
    latency_ms: float
    url: str

    def __str__(self) -> str:
        return f"{self.backend} {self.server_version} at {self.url}: {self.latency_ms:.2f} ms"


def check_connection(engine: Engine | None = None) -> ConnectionReport:
    """Open a connection and time one round trip; raise `DatabaseConnectionError` if unreachable."""
    engine = engine or get_engine()
    try:
        with engine.connect() as connection:
            started = time.perf_counter()
            connection.execute(text("SELECT 1"))
            latency_ms = (time.perf_counter() - started) * 1000
            version = _server_version(connection)
    except DBAPIError as exc:
        reason = resilience.reason_of(exc.orig or exc, engine.url)
        raise DatabaseConnectionError(
            f"cannot reach the database at {masked_url(engine.url)}: {reason}"
        ) from None
    return ConnectionReport(engine.dialect.name, version, latency_ms, masked_url(engine.url))


def _server_version(connection: Connection) -> str:
    if connection.dialect.name == "postgresql":
        return str(connection.execute(text("SHOW server_version")).scalar_one())
    return str(connection.execute(text("SELECT sqlite_version()")).scalar_one())


if TYPE_CHECKING:
    engine: Engine  # `from src.database.connection import engine`, typed for checkers
else:

    def __getattr__(name: str) -> Any:
        """`engine` as a lazy module attribute (PEP 562): the process-wide engine, built on
        first access, so importing this module still opens nothing. Projects built from
        the same plan import it this way."""
        if name == "engine":
            return get_engine()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
