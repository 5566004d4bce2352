"""Check a pooled connection before use only when it has sat idle, as HikariCP does.

SQLAlchemy's `pool_pre_ping` sends a round trip at every checkout. Behind
Neon's pooler a service checks connections out for every transaction, so that
is one extra round trip per request, for a danger (the compute suspended and
dropped the connection) that only exists after the connection sat unused.
HikariCP skips its liveness check for a connection used within the last
500 ms (`aliveBypassWindowMs`); this does the same:

- a connection returned less than `window_s` ago is handed out as it is;
- one idle for longer is pinged first; if the ping fails, the pool drops it
  and every connection older than it (a suspend drops them all) and connects
  afresh, so the caller never sees the dead one;
- a connection that dies while in use is still reported as
  `DatabaseConnectionError` by `resilience.py`, and SQLAlchemy invalidates the
  pool, so the next checkout reconnects.

`DB_POOL_PING_AFTER_IDLE_S=0` pings at every checkout, like `pool_pre_ping`.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

HIKARI_BYPASS_WINDOW_S = 0.5
_IDLE_SINCE = "todo.idle_since"  # ConnectionPoolEntry.info: cleared when the connection is replaced


def install_idle_check(engine: Engine, window_s: float) -> None:
    """Ping a pooled connection at checkout only if it has been idle for more than `window_s`."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _validate(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since <= window_s:
            return  # just opened, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # Replace this connection and every one opened before it, then retry the checkout.
            raise InvalidatePoolError(
                f"idle connection failed its ping: {type(exc).__name__}"
            ) from exc
