"""The one engine factory: a tuned blocking engine for whichever backend `Settings` names.

Neon suspends an idle compute after five minutes and drops its connections, so
pooled connections that sat idle are pinged before use (`liveness.py`) and
recycled before that cut-off; `resilience.py` adds connect retries and typed
errors. SQLite, the embedded default, needs foreign keys switched on per
connection (or ON DELETE CASCADE silently does nothing) and explicit BEGINs so
that SAVEPOINTs work; in memory, its one connection is lent to one transaction
at a time (`memory_pool.py`). `async_connection.py` builds the asyncio twin from the
same options; both PostgreSQL drivers are libpq (psycopg2 here, psycopg 3
there), so a URL and its query parameters mean the same on both paths.
`DB_POOL_SIZE=0` keeps no connection between sessions (NullPool), for
serverless hosts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, Pool

from src.config.settings import Settings
from src.database import autocommit, capacity, liveness, replicas, resilience
from src.database.closing import install_quiet_rollback
from src.database.memory_pool import OneConnectionPool
from src.models.row_security import install_user_naming


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
        # The database lives in one connection, lent to one transaction at a time.
        return {**common, "poolclass": OneConnectionPool, "pool_timeout": settings.pool_timeout_s}
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
    else:  # SQLite: wait for a writer instead of failing; lend a connection across threads
        options["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, **options)
    prepare(engine, settings)
    if settings.database_replica_urls:
        replicas.attach(
            engine, [build_engine(s) for s in replicas.replica_settings(settings)], settings
        )
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
    install_quiet_rollback(engine)
    if url.get_backend_name() == "postgresql":
        liveness.install_idle_check(engine, settings.pool_ping_after_idle_s)
        capacity.install(engine, settings)
        install_user_naming(engine)
        autocommit.install(engine)
        # Bulk inserts as multi-row INSERT batches on psycopg 3 too (psycopg2's default):
        # one statement per batch can carry its user; an executemany cannot.
        engine.dialect.use_insertmanyvalues_wo_returning = True
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
