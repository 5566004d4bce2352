"""Ending a session never fails because its connection is already gone.

A FastAPI dependency closes its session after the response has been sent; a
`session_scope` rolls back after the block already failed. If Neon suspended
the compute, a proxy dropped the socket or the server restarted in between,
the rollback that closing implies cannot reach the server. There is nothing
left to undo then (the server discarded the transaction with the connection),
so raising would only turn a finished request into "Exception in ASGI
application" or hide the block's own error. These helpers log one warning,
with the masked reason only, discard the connection and return.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session

from src.errors import DatabaseConnectionError

logger = logging.getLogger(__name__)


def _connection_gone(exc: Exception) -> bool:
    if isinstance(exc, DatabaseConnectionError):  # the engine's disconnect hook made it
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _warn(action: str, exc: Exception) -> None:
    # DatabaseConnectionError messages carry the masked URL; a driver's first line, no DSN.
    text = str(exc).strip().splitlines()
    logger.warning(
        "%s a database session: the connection was already gone (%s); "
        "the server discarded its open transaction",
        action,
        text[0] if text else type(exc).__name__,
    )


def close_quietly(session: Session) -> None:
    """`session.close()`, except that a lost connection is logged instead of raised."""
    _quietly("closing", session.close, session.invalidate)


def rollback_quietly(session: Session) -> None:
    """`session.rollback()` for error paths, where the original error must win."""
    _quietly("rolling back", session.rollback, session.invalidate)


def _quietly(action: str, act: Callable[[], None], discard: Callable[[], None]) -> None:
    try:
        act()
    except (DatabaseConnectionError, DBAPIError) as exc:
        if not _connection_gone(exc):
            raise
        _warn(action, exc)
        discard()


async def aclose_quietly(session: AsyncSession) -> None:
    """The asyncio twin of `close_quietly`."""
    await _aquietly("closing", session.close, session.invalidate)


async def arollback_quietly(session: AsyncSession) -> None:
    """The asyncio twin of `rollback_quietly`."""
    await _aquietly("rolling back", session.rollback, session.invalidate)


async def _aquietly(
    action: str, act: Callable[[], Awaitable[None]], discard: Callable[[], Awaitable[None]]
) -> None:
    try:
        await act()
    except (DatabaseConnectionError, DBAPIError) as exc:
        if not _connection_gone(exc):
            raise
        _warn(action, exc)
        await discard()
