"""Autocommit for one operation's connection, switched without a round trip.

A single-statement operation runs on an autocommit connection: the Query
message that carries its statement is then its whole transaction (see
`src.crud.transactions`). SQLAlchemy's `isolation_level="AUTOCOMMIT"`
execution option would do this, but on psycopg2 restoring the default level
when the connection goes back to the pool sends `SET
default_transaction_isolation TO DEFAULT`: one more round trip per request.
Both drivers' `autocommit` attribute changes nothing on the server, so this
sets it on checkout and clears it when the connection is checked in.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

logger = logging.getLogger(__name__)

_SWITCHED = "todo.autocommit"  # ConnectionPoolEntry.info: set while switched on


def install(engine: Engine) -> None:
    """Switch autocommit off again whenever a connection returns to `engine`'s pool."""
    event.listen(engine, "checkin", _switch_off)


def switch_on(connection: Connection) -> None:
    """Make every statement on `connection` its own transaction until it is checked in.

    Only for a connection the caller holds no transaction on: the session's
    own, procured for one operation.
    """
    pooled = connection.connection
    pooled.dbapi_connection.autocommit = True  # type: ignore[union-attr]  # both drivers have it
    pooled.info[_SWITCHED] = True


def is_on(connection: Connection) -> bool:
    """Whether `connection` was switched to autocommit for its operation."""
    try:
        return bool(connection.connection.info.get(_SWITCHED, False))
    except Exception:  # the connection is already closed or invalidated
        return False


def _switch_off(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    if not record.info.pop(_SWITCHED, False) or dbapi_connection is None:
        return
    try:
        dbapi_connection.autocommit = False
    except Exception:  # a broken connection: never hand it out again
        logger.debug("could not switch autocommit off; discarding the connection", exc_info=True)
        record.invalidate()
