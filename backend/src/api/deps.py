"""Typed dependencies for endpoints: a session per request, and the caller's user id.

The sessions are the package's own (`get_session`, `get_async_session`), so
they never expire objects at commit and always close. They are declared with
`scope="function"`: FastAPI then closes the session when the endpoint returns,
before the response is sent, so whatever closing meets (a connection that died
meanwhile) is answered by the error handlers instead of surfacing in the
server's log after the client already has its answer.

The user id is a hook: the package cannot know how the application verifies
callers (a JWT, a session cookie, a signed token), so endpoints depend on
`current_user_id` and the application installs its own verifier with
`use_user_id(app, verifier)`. The verifier is an ordinary FastAPI dependency
and may declare headers, cookies or security schemes of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from src.database.async_connection import get_async_session
from src.database.connection import new_session


async def request_session() -> AsyncIterator[Session]:
    """`get_session` for a request, without two trips through the thread pool.

    FastAPI runs a blocking generator dependency's set-up and tear-down in its
    thread pool: two hand-offs per request, a tenth of a request's CPU in the
    profile (research.md, section 17). Making a session does no I/O, and
    neither does closing one that holds no connection, which is the normal
    case: every operation ends its transaction before it returns. Only a
    session still holding one (the endpoint ran its own statements) is closed
    in the thread pool, since that sends a ROLLBACK.
    """
    session = new_session()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(request_session, scope="function")]
"""A blocking session for `def` endpoints; use it with the operations of `src.crud`."""

AsyncSessionDep = Annotated[AsyncSession, Depends(get_async_session, scope="function")]
"""An asyncio session for `async def` endpoints; use it with `src.crud.aio`."""


class UserIdHookMissingError(RuntimeError):
    """An endpoint asked for the caller's id, but the application installed no verifier."""

    def __init__(self) -> None:
        super().__init__(
            "no user-id verifier is installed: call src.api.use_user_id(app, verifier) "
            "with the dependency that returns the verified caller's id"
        )


def current_user_id() -> int:
    """The verified caller's id; replaced on each app by `use_user_id`.

    Without a verifier it refuses (an answer 500, and the reason in the log)
    rather than guess an identity.
    """
    raise UserIdHookMissingError


CurrentUserId = Annotated[int, Depends(current_user_id)]
"""The id of the verified caller: the only user id a todo operation may be given."""


def use_user_id(app: FastAPI, verifier: Callable[..., Any]) -> None:
    """Make `verifier` (a dependency returning an `int` user id) answer `CurrentUserId`."""
    app.dependency_overrides[current_user_id] = verifier
