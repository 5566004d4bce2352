"""Typed dependencies for endpoints: a session per request, and the caller's user id.

The sessions are the package's own (`get_session`, `get_async_session`), so
they never expire objects at commit and always close. They are declared with
`scope="function"`: FastAPI then closes the session when the endpoint returns,
before the response is sent, so whatever closing meets (a connection that died
meanwhile) is answered by the error handlers instead of surfacing in the
server's log after the client already has its answer.

The package cannot know how the application verifies callers (a JWT, a
session cookie, a signed token): `verified_user_id(verifier)` turns the
application's verifier into the dependency that answers the caller's id, and
`src.api.tokens` offers a JWT verifier for the common case.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from src.api.consistency import follow_client
from src.crud.arguments import MAX_ID
from src.database.async_connection import get_async_engine, new_async_session
from src.database.connection import new_session


async def request_session(request: Request, response: Response) -> AsyncIterator[Session]:
    """`get_session` for a request, without two trips through the thread pool.

    FastAPI runs a blocking generator dependency's set-up and tear-down in its
    thread pool: two hand-offs per request, a tenth of a request's CPU in the
    profile (research.md, section 17). Making a session does no I/O, and
    neither does closing one that holds no connection, which is the normal
    case: every operation ends its transaction before it returns. Only a
    session still holding one (the endpoint ran its own statements) is closed
    in the thread pool, since that sends a ROLLBACK. With read replicas the
    session carries the client's read position (`consistency.py`).
    """
    session = new_session()
    follow_client(session, request, response)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


async def request_async_session(
    request: Request, response: Response
) -> AsyncIterator[AsyncSession]:
    """`get_async_session` for a request, carrying the client's read position."""
    async with new_async_session(await get_async_engine()) as session:
        follow_client(session.sync_session, request, response)
        yield session


SessionDep = Annotated[Session, Depends(request_session, scope="function")]
"""A blocking session for `def` endpoints; use it with the operations of `src.crud`."""

AsyncSessionDep = Annotated[AsyncSession, Depends(request_async_session, scope="function")]
"""An asyncio session for `async def` endpoints; use it with `src.crud.aio`."""


class UserIdVerifierError(RuntimeError):
    """The application's verifier answered something that is not a user id: a server bug (500)."""


def verified_user_id(verifier: Callable[..., Any]) -> Callable[..., Awaitable[int]]:
    """The dependency that answers the verified caller's user id through `verifier`.

    `verifier` is the application's own FastAPI dependency (it may declare
    headers, cookies or security schemes): it refuses a caller with a 401 and
    otherwise returns the caller's user id. Declare the id once, in the
    application's own dependencies module, as FastAPI's documentation does for
    its current user:

        CurrentUserId = Annotated[int, Depends(verified_user_id(verify_token))]

    The verifier is thereby part of every route that uses `CurrentUserId`, so
    clearing `app.dependency_overrides` (FastAPI's testing guide does it after
    each test) cannot remove it, and no request pays for an override lookup.
    Tests stand in for the caller by overriding the verifier itself:
    `app.dependency_overrides[verify_token] = lambda: user_id`.

    What the verifier returns is checked, since a todo operation will trust
    it: an `int` (not a bool) between 1 and 2^63-1, else
    `UserIdVerifierError`, which `register_error_handlers` answers with a bare
    500 (the reason goes to the log): it is the server's fault, not the client's.
    """

    async def current_user_id(verified: object) -> int:
        if type(verified) is not int or not 0 < verified <= MAX_ID:
            raise UserIdVerifierError(
                f"the user-id verifier {getattr(verifier, '__qualname__', verifier)!r} "
                f"returned a {type(verified).__name__}, not a user id (an int from 1 to 2^63-1)"
            )
        return verified

    # Built here rather than written as an annotation: the verifier is known only now.
    parameter = inspect.Parameter(
        "verified", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[object, Depends(verifier)]
    )
    current_user_id.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [parameter], return_annotation=int
    )
    return current_user_id
