"""Hand out a pooled connection without a round trip, unless it shows signs of being gone.

SQLAlchemy's `pool_pre_ping` sends a round trip at every checkout, and a
timer (HikariCP's 500 ms bypass window, this module's earlier rule) still
pings nearly every request at ordinary traffic: one request per second per
process leaves every connection idle for longer than that. What a ping is
meant to catch announces itself on the socket, without asking the server:

- a compute suspended by Neon (after 5 minutes idle), a restarted pooler, a
  terminated backend: the server side sends its FATAL message and closes, so
  the idle connection's socket becomes readable (data or end of file);
- a peer that vanished silently: TCP keepalives (`keepalives_idle` 30 s,
  3 probes 10 s apart, set in `engine_factory.libpq_connect_args`) mark the
  socket with an error within about a minute, which also makes it readable.

So at checkout the socket is polled with a zero timeout (a local system call).
Nothing to read: the connection is handed out as it is. Something to read
(an idle connection is owed nothing by the server), or idle for longer than
`window_s`: it is pinged, and if the ping fails the pool drops it and every
connection older than it (a suspend drops them all) and connects afresh, so
the caller never sees the dead one. A connection that dies while in use is
still reported as `DatabaseConnectionError` by `resilience.py`.

What it does not catch: a server host that crashed or failed over without
closing its connections sends nothing; the socket stays quiet until the
keepalives give up (about a minute). A request in that minute fails with
`DatabaseConnectionError` (503 with `Retry-After` from `src.api`), and the
pool then replaces every older connection. A timer would catch only the
connections idle longer than its window, at a round trip on every request.

`DB_POOL_PING_AFTER_IDLE_S=0` pings at every checkout, like `pool_pre_ping`.
"""

from __future__ import annotations

import select
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

_IDLE_SINCE = "todo.idle_since"  # ConnectionPoolEntry.info: cleared when the connection is replaced


def install_idle_check(engine: Engine, window_s: float) -> None:
    """Ping a pooled connection at checkout only if its socket has news or it idled `window_s`."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _validate(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None:
            return  # just opened
        if time.monotonic() - idle_since <= window_s and not socket_has_news(record):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # Replace this connection and every one opened before it, then retry the checkout.
            raise InvalidatePoolError(
                f"idle connection failed its ping: {type(exc).__name__}"
            ) from exc


def socket_has_news(record: ConnectionPoolEntry) -> bool:
    """Whether the idle connection's socket is readable or in error (closed, FATAL, reset).

    Also True when the socket cannot be polled at all: the ping then decides.
    """
    try:
        descriptor = record.driver_connection.fileno()  # type: ignore[union-attr]  # libpq's socket, both drivers
        readable, _, broken = select.select([descriptor], [], [descriptor], 0)
    except Exception:  # no socket (closed, invalidated, a driver's own error): let the ping decide
        return True
    return bool(readable or broken)
