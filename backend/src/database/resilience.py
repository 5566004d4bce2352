"""What Neon does to connections, handled once for every engine the package builds.

- A suspended compute refuses or stalls new connections while it wakes, and
  Neon's proxy says so in its own words ("Couldn't connect to compute node",
  "Failed to acquire permit ..."); PostgreSQL says "not now" with SQLSTATE
  53300 or 57P03. Connecting is retried with exponential backoff and jitter,
  within `DB_CONNECT_RETRY_BUDGET_S`. A refused login or a missing database is
  not transient and fails at once. The same rules serve psycopg2 and psycopg 3.
- A suspend or restart drops open connections: a pooled one that sat idle is
  pinged and replaced before use (`liveness.py`); one lost in the middle of a
  transaction raises `DatabaseConnectionError` (the server rolls the
  transaction back).
- When every pooled connection stays busy past `DB_POOL_TIMEOUT_S`, the pool
  raises `PoolExhaustedError` instead of SQLAlchemy's generic timeout.
- SQL parameters are never logged (`hide_parameters`), and neither are result
  rows, which can hold password hashes, even with DEBUG logging.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Dialect, ExceptionContext
from sqlalchemy.pool import (
    AsyncAdaptedQueuePool,
    ConnectionPoolEntry,
    PoolProxiedConnection,
    QueuePool,
)
from sqlalchemy.util import await_only

from src.database import autocommit
from src.errors import DatabaseConnectionError, PoolExhaustedError

logger = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 2.0

# SQLSTATEs that mean "not now": too many connections (53300), starting up (57P03),
# shutting down (57P01, 57P02), or the connection could not be set up (08001, 08006).
_TRANSIENT_STATES = frozenset({"53300", "57P03", "57P01", "57P02", "08001", "08006"})
# Classes that never heal by waiting: bad login (28) and a missing database (3D).
_PERMANENT_CLASSES = ("28", "3D")
# What a connection attempt says while a server is starting, stopping or unreachable,
# for errors that carry no SQLSTATE (libpq's own) or a generic one (Neon's proxy: XX000).
_TRANSIENT_MESSAGES = (
    "couldn't connect to compute node",  # Neon's proxy while the compute wakes
    "failed to connect to the compute node",  # the same, older proxies
    "failed to acquire permit to connect to the database",  # Neon: connection storm
    "too many clients already",
    "too many connections for",  # a role's or database's CONNECTION LIMIT (also 53300)
    "remaining connection slots are reserved",
    "connection refused",
    "timeout expired",
    "timed out",
    "could not connect to server",
    "server closed the connection unexpectedly",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "terminating connection due to administrator command",
    "connection reset",
    "could not receive data",
    "no connection to the server",
    "ssl syscall error",
    "eof detected",
)
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError, OSError)


def is_interrupt(exc: BaseException) -> bool:
    """KeyboardInterrupt, SystemExit, a cancelled asyncio task: the caller's, not the database's.

    They must reach the caller as themselves (an `asyncio.timeout` turns the
    cancellation into TimeoutError only if it arrives unchanged); SQLAlchemy
    already discards the one connection they cut, since its state is unknown.
    """
    return not isinstance(exc, Exception)


def masked(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def reason_of(exc: BaseException, url: URL) -> str:
    """The first line of a driver's message, with the URL's password scrubbed from it."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.replace(str(url.password), "***") if url.password else text


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE a driver attached: psycopg 3 `sqlstate`, psycopg2 `pgcode`."""
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return state if isinstance(state, str) else None


def is_transient(exc: BaseException) -> bool:
    """Whether a failed connection attempt is worth repeating: the SQLSTATE when the
    server sent one that decides it, else the message, else the exception's type."""
    state = sqlstate_of(exc)
    if state in _TRANSIENT_STATES:
        return True
    if state is not None and state.startswith(_PERMANENT_CLASSES):
        return False
    message = str(exc).lower()
    if any(fragment in message for fragment in _TRANSIENT_MESSAGES):
        return True
    return isinstance(exc, _TRANSIENT_TYPES) and "does not exist" not in message


def backoff_delays() -> Iterator[float]:
    """Exponential delays with jitter (each between half and all of the step)."""
    step = BACKOFF_FIRST_S
    while True:
        yield step / 2 + random.uniform(0, step / 2)  # noqa: S311  jitter, not security
        step = min(step * 2, BACKOFF_MAX_S)


def install(engine: Engine, url: URL, retry_budget_s: float) -> None:
    """Attach connect retries, lost-connection errors and row-log redaction to `engine`."""

    @event.listens_for(engine, "do_connect")
    def _connect_with_retry(
        dialect: Dialect, _record: ConnectionPoolEntry, cargs: Any, cparams: Any
    ) -> Any:
        started = time.monotonic()
        delays = backoff_delays()
        attempts = 0
        while True:
            attempts += 1
            try:
                return dialect.connect(*cargs, **cparams)
            except Exception as exc:
                reason = reason_of(exc, url)
                if not is_transient(exc):
                    raise DatabaseConnectionError(
                        f"cannot connect to {masked(url)}: {reason} (not retried)"
                    ) from None
                delay = next(delays)
                elapsed = time.monotonic() - started
                if elapsed + delay > retry_budget_s:
                    raise DatabaseConnectionError(
                        f"cannot reach the database at {masked(url)} after {attempts} "
                        f"attempt(s) in {elapsed:.1f} s: {reason}"
                    ) from None
                logger.warning(
                    "connection attempt %d to %s failed (%s); retrying in %.2f s",
                    attempts,
                    masked(url),
                    reason,
                    delay,
                )
                _sleep(dialect, delay)

    @event.listens_for(engine, "handle_error")
    def _lost_connection(context: ExceptionContext) -> BaseException | None:
        if context.is_pre_ping or not context.is_disconnect:
            return None  # a failed pre-ping is answered by replacing the connection
        if is_interrupt(context.original_exception):
            if context.dialect.name == "sqlite":
                # In-process: nothing was cut, so keep the connection (an in-memory
                # database lives only as long as its one connection); roll back instead.
                context.is_disconnect = False
            return None  # raised as itself; SQLAlchemy discards only the connection it cut
        connection = context.connection
        outcome = (
            "the statement may have taken effect (it was its own transaction): "
            "check before repeating a write"
            if connection is not None and autocommit.is_on(connection)
            else "the transaction in progress was not committed (if it was committing, "
            "check whether it took effect)"
        )
        return DatabaseConnectionError(
            f"lost the connection to {masked(url)}: "
            f"{reason_of(context.original_exception, url)}; {outcome}"
        )

    # Global on purpose: SQLAlchemy logs every engine's rows on this one shared
    # logger, so the filter must sit there; adding the same filter again is a no-op.
    logging.getLogger("sqlalchemy.engine.Engine").addFilter(_hide_rows)


def _sleep(dialect: Dialect, seconds: float) -> None:
    if dialect.is_async:
        await_only(asyncio.sleep(seconds))  # inside SQLAlchemy's greenlet: do not block the loop
    else:
        time.sleep(seconds)


def _hide_rows(record: logging.LogRecord) -> bool:
    """SQLAlchemy logs each fetched row at DEBUG; rows can hold password hashes."""
    if isinstance(record.msg, str) and record.msg.startswith("Row "):
        record.args = ("(hidden)",)
    return True


class _TypedTimeout:
    """Turn the pool's checkout timeout into `PoolExhaustedError`."""

    def connect(self) -> PoolProxiedConnection:
        try:
            return super().connect()  # type: ignore[misc,no-any-return]  # mixin: super() is the pool
        except sa_exc.TimeoutError:
            pool: Any = self
            raise PoolExhaustedError(pool.size(), pool._max_overflow, pool._timeout) from None


class GuardedQueuePool(_TypedTimeout, QueuePool):
    pass


class GuardedAsyncQueuePool(_TypedTimeout, AsyncAdaptedQueuePool):
    pass
