"""The engine and sessions: built once per process from `Settings`, tuned for Neon.

Neon suspends an idle compute after five minutes and drops its connections, so
pooled connections that sat idle are pinged before use (`liveness.py`) and
recycled before that cut-off;
`resilience.py` adds connect retries and typed errors. SQLite, the embedded
default, needs foreign keys switched on per connection (or ON DELETE CASCADE
silently does nothing) and explicit BEGINs so that SAVEPOINTs work.
`async_connection.py` builds the asyncio twin from the same options; both
PostgreSQL drivers are libpq (psycopg2 here, psycopg 3 there), so a URL and
its query parameters mean the same on both paths. `DB_POOL_SIZE=0` keeps no
connection between sessions (NullPool), for serverless hosts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, Pool, StaticPool
from sqlmodel import Session, SQLModel

from src import models as _models  # noqa: F401  registers the tables on the metadata
from src.config.settings import Settings, get_settings
from src.database import liveness, resilience
from src.database.closing import close_quietly, rollback_quietly
from src.errors import DatabaseConnectionError

logger = logging.getLogger(__name__)

_engine: Engine | None = None
_engine_lock = threading.Lock()


def masked_url(url: URL) -> str:
    """The URL as it may appear in logs and messages: password replaced by `***`."""
    return resilience.masked(url)


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def engine_options(settings: Settings, queue_pool: type[Pool]) -> dict[str, Any]:
    """`create_engine` keyword arguments shared by the blocking and the asyncio engine."""
    url = settings.resolved_database_url
    common: dict[str, Any] = {"echo": settings.echo, "hide_parameters": True}
    if is_memory_sqlite(url):
        # One shared connection keeps the in-memory database alive across sessions.
        return {**common, "poolclass": StaticPool}
    if not settings.pooled:  # serverless: a connection per session, none held in between
        return {**common, "poolclass": NullPool, "pool_pre_ping": False}
    pooled = {
        **common,
        "poolclass": queue_pool,
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout_s,
    }
    if url.get_backend_name() == "sqlite":
        return pooled
    return {
        **pooled,
        # No pool_pre_ping: `liveness.install_idle_check` pings only connections that sat idle.
        "pool_recycle": settings.pool_recycle_s,
        "pool_use_lifo": True,  # idle extras age out instead of being kept warm round-robin
    }


def build_engine(settings: Settings) -> Engine:
    """The one engine factory: a tuned engine for whichever backend `settings` names."""
    url = settings.resolved_database_url
    options = engine_options(settings, resilience.GuardedQueuePool)
    if url.get_backend_name() == "postgresql":
        options["connect_args"] = libpq_connect_args(settings)
    else:  # SQLite: wait for a writer instead of failing; share the in-memory connection
        options["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, **options)
    prepare(engine, settings)
    return engine


def libpq_connect_args(settings: Settings) -> dict[str, Any]:
    """libpq connection parameters the package adds, for psycopg2 and psycopg 3 alike.

    A parameter the URL already names (`connect_timeout`, `application_name`,
    ...) is left to the URL: what a user pastes is what they get.
    """
    defaults: dict[str, Any] = {
        "connect_timeout": settings.connect_timeout_s,
        "application_name": settings.application_name,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }
    given = settings.resolved_database_url.query
    return {name: value for name, value in defaults.items() if name not in given}


def prepare(engine: Engine, settings: Settings) -> None:
    """Per-connection set-up and resilience hooks (for a blocking or an async engine's core)."""
    url = engine.url  # the driver actually used, so messages name it
    resilience.install(engine, url, settings.connect_retry_budget_s)
    if url.get_backend_name() == "postgresql":
        liveness.install_idle_check(engine, settings.pool_ping_after_idle_s)
    if url.get_backend_name() == "sqlite":
        _configure_sqlite(engine, in_memory=is_memory_sqlite(url))


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


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
    session = new_session()
    try:
        yield session
    finally:
        close_quietly(session)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """For scripts and jobs: commit when the block succeeds, roll back when it raises.

    A failed commit raises; a failed rollback or close (connection gone) does not.
    """
    session = new_session(engine)
    try:
        yield session
        session.commit()
    except BaseException:
        rollback_quietly(session)
        raise
    finally:
        close_quietly(session)


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
