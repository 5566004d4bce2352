"""The in-memory SQLite database's one connection, lent to one transaction at a time.

An in-memory database lives and dies with its connection, so every session of
the engine must use the same one. SQLAlchemy's `StaticPool` hands it to every
caller at once: sessions in two threads or tasks then share one SQLite
transaction (one's COMMIT commits the other's half-done work, one's ROLLBACK
discards the other's acknowledged create, one's BEGIN fails inside the
other's), and concurrent calls into one sqlite3 connection can crash the
interpreter. And when SQLAlchemy discards a connection whose state it no
longer knows (Ctrl-C, a cancelled task), `StaticPool` opens a new one: a new,
empty database, every acknowledged row gone.

`OneConnectionPool` lends the connection from checkout to checkin, which comes
after the pool's rollback-on-return, so each transaction is its own, all or
nothing, as on a file or a server. Every operation of this package gives it
back before returning. Others wait their turn for at most `DB_POOL_TIMEOUT_S`:
threads block, asyncio tasks await without blocking the loop (SQLAlchemy's
own queues, those of `QueuePool` and `AsyncAdaptedQueuePool`). The thread
(blocking engine) or task (asyncio engine) already holding it would wait for
itself, so it is refused at once: a second session opened while the first is
still in a transaction. Both refusals are `InMemoryDatabaseBusyError`. A
connection SQLAlchemy discards is rolled back and kept, not closed, and the
next checkout gets it again; only `dispose()` (or a connection that can no
longer even roll back) ends the database.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty, Queue, QueueCommon

from src.errors import InMemoryDatabaseBusyError

_INSTEAD = "use a file database (sqlite:///todo.db) or PostgreSQL for overlapping transactions"


class OneConnectionPool(StaticPool):
    """`StaticPool` that lends its one connection to one checkout at a time, and keeps it."""

    def __init__(self, creator: Callable[..., Any], timeout: float = 30.0, **kw: Any) -> None:
        super().__init__(creator, **kw)
        self._timeout = timeout
        # One token: whoever holds it holds the connection.
        self._turn: QueueCommon[bool] = AsyncAdaptedQueue(1) if self._is_asyncio else Queue(1)
        self._turn.put(True, block=False)
        self._holder: object = None
        self._kept: DBAPIConnection | None = None
        self._disposing = False
        create = self._invoke_creator  # as StaticPool._transfer_from, reuse before creating

        def reuse_or_create(rec: ConnectionPoolEntry) -> DBAPIConnection:
            kept, self._kept = self._kept, None
            return kept if kept is not None else create(rec)

        self._invoke_creator = reuse_or_create

    def status(self) -> str:
        return f"OneConnectionPool ({'lent' if self.checkedout() else 'free'})"

    def checkedout(self) -> int:
        return 1 if self._turn.empty() else 0

    def recreate(self) -> OneConnectionPool:
        pool = cast(OneConnectionPool, super().recreate())
        pool._timeout = self._timeout
        return pool

    def dispose(self) -> None:
        self._disposing = True
        try:
            super().dispose()
            if self._kept is not None:
                super()._close_connection(self._kept)
                self._kept = None
        finally:
            self._disposing = False

    def _close_connection(self, connection: DBAPIConnection, *, terminate: bool = False) -> None:
        """Closing would drop the database: roll back and keep it, unless disposing."""
        if not self._disposing:
            try:
                connection.rollback()
            except Exception:  # noqa: S110  closed or broken: nothing left to keep
                pass
            else:
                self._kept = connection
                return
        super()._close_connection(connection, terminate=terminate)

    def _do_get(self) -> ConnectionPoolEntry:
        caller = self._caller()
        if caller is not None and caller == self._holder:
            raise InMemoryDatabaseBusyError(
                f"this {'task' if self._is_asyncio else 'thread'} already holds its one "
                "connection, in a session whose transaction is still open; commit or close "
                f"that session before using another, or {_INSTEAD}"
            )
        try:
            self._turn.get(timeout=self._timeout)
        except Empty:
            raise InMemoryDatabaseBusyError(
                f"other transactions held its one connection for {self._timeout:g} s "
                f"(DB_POOL_TIMEOUT_S); shorten them, or {_INSTEAD}"
            ) from None
        self._holder = caller
        try:
            return self._record()
        except BaseException:
            self._give_back()
            raise

    def _record(self) -> ConnectionPoolEntry:
        """StaticPool's record; one it invalidated hands its still-open connection on."""
        record = self.connection
        if record._is_hard_or_soft_invalidated():  # as StaticPool._do_get does
            if record.dbapi_connection is not None:  # soft: never closed, so keep it
                self._close_connection(record.dbapi_connection)
            del self.__dict__["connection"]
            record = self.connection
        return record

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        self._give_back()

    def _give_back(self) -> None:
        self._holder = None
        self._turn.put(True, block=False)

    def _caller(self) -> object:
        """Who would wait: the thread on a blocking engine, the task on an asyncio one."""
        if not self._is_asyncio:
            return threading.get_ident()
        try:
            return asyncio.current_task()
        except RuntimeError:  # no running loop: nobody to tell apart
            return None
