"""Connections, sessions and migrations: the package face of `src.database`.

    from src.database import get_engine, get_session

Importing opens no connection; the engines are built on first use.
"""

from src.database.async_connection import (
    async_session_scope,
    dispose_async_engine,
    get_async_engine,
    get_async_session,
    new_async_session,
)
from src.database.connection import (
    check_connection,
    create_db_and_tables,
    dispose_engine,
    get_engine,
    get_session,
    new_session,
    session_scope,
)
from src.database.migrations import upgrade_to_head

__all__ = [
    "async_session_scope",
    "check_connection",
    "create_db_and_tables",
    "dispose_async_engine",
    "dispose_engine",
    "get_async_engine",
    "get_async_session",
    "get_engine",
    "get_session",
    "new_async_session",
    "new_session",
    "session_scope",
    "upgrade_to_head",
]
