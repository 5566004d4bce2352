"""Ending a session never fails because its connection is already gone.

However a session was made (`new_session()`, `new_async_session()`, SQLModel's
own `Session(engine)`, a FastAPI dependency, `session_scope`), closing it or
rolling it back sends a ROLLBACK if it holds a transaction. If Neon suspended
the compute, a proxy dropped the socket or the server restarted in between,
that ROLLBACK cannot reach the server. There is nothing left to undo then:
the server discarded the transaction with the connection. Raising would only
turn a finished request into "Exception in ASGI application", make
`with new_session() as s:` fail on its way out, or hide a block's own error.

So the rule is enforced once, in the engine's dialect: a rollback that fails
because the connection is gone logs one warning (the driver's first line,
never the URL's password) and returns; the dead connection is discarded when
it goes back to the pool. A COMMIT that cannot reach the server still raises:
the caller must learn that its writes may not have been saved.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import ConnectionPoolEntry

logger = logging.getLogger(__name__)


def install_quiet_rollback(engine: Engine) -> None:
    """Make `engine`'s rollbacks quiet when the connection is gone (for blocking and async)."""
    dialect = engine.dialect
    roll_back = dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        if is_closed(dbapi_connection):
            return  # already discarded with its transaction (a rollback above was quiet)
        try:
            roll_back(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            _warn(exc)
            dbapi_connection.close()  # returned to the pool closed, and discarded there

    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    @event.listens_for(engine, "checkin")
    def _discard_closed(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if dbapi_connection is not None and is_closed(dbapi_connection):
            record.invalidate()  # the next checkout connects afresh; no other is touched


def is_closed(dbapi_connection: Any) -> bool:
    """Whether the driver's connection is closed (psycopg2: `closed` > 0; psycopg 3: True)."""
    driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    return bool(getattr(driver, "closed", False))


def _warn(exc: BaseException) -> None:
    # A driver's first line: it names the failure, never the DSN.
    text = str(exc).strip().splitlines()
    logger.warning(
        "rolling back a database session: the connection was already gone (%s); "
        "the server discarded its open transaction",
        text[0] if text else type(exc).__name__,
    )
