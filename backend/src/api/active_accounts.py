"""The caller's user id, refused (401) when its account is deactivated or gone.

A bearer token stays valid until it expires (an hour for the example
service's), whatever happens to its account meanwhile, so the verifier alone
keeps admitting an account deactivated after its login. Asking the database
on every request would cost every request a second round trip, where the
package spends one per operation (research.md, section 17). `ActiveAccounts`
remembers, in this process, the user ids it found active, and asks again once
`recheck_after_s` has passed since it asked:

- the process that deactivates an account (`forget`, after `deactivate_user`)
  refuses its tokens from the next request on;
- every other process (another worker, an operator's `set_active`) within
  `recheck_after_s`: that is the price of not asking on each request;
- an account found deactivated or missing is not remembered: each of its
  requests asks (and is refused), and a reactivated one is admitted at once.

`recheck_after_s=0` asks on every request: exact everywhere, a round trip
more for each request. What is remembered is bounded (`max_remembered` ids,
the oldest dropped first).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, status
from starlette.concurrency import run_in_threadpool

from src.api.deps import verified_user_id
from src.crud import aio, get_user
from src.database.async_connection import get_async_engine, new_async_session
from src.database.connection import new_session

DEFAULT_RECHECK_S = 30.0
"""How stale another process's view of an account may be; a token lives 3600 s."""

ActiveReader = Callable[[int], Awaitable[bool]]
"""Whether the account of a user id exists and is active, read from the database."""


async def read_blocking(user_id: int) -> bool:
    """`ActiveReader` for blocking services: `crud.get_user` in the thread pool."""
    return await run_in_threadpool(_is_active, user_id)


def _is_active(user_id: int) -> bool:
    with new_session() as session:
        user = get_user(session, user_id)
    return user is not None and user.is_active


async def read_async(user_id: int) -> bool:
    """`ActiveReader` for asyncio services: `aio.get_user` on the asyncio engine."""
    async with new_async_session(await get_async_engine()) as session:
        user = await aio.get_user(session, user_id)
    return user is not None and user.is_active


class ActiveAccounts:
    """Which user ids this process found active, and when; see the module's docstring."""

    def __init__(
        self,
        read_active: ActiveReader,
        *,
        recheck_after_s: float = DEFAULT_RECHECK_S,
        max_remembered: int = 100_000,
    ) -> None:
        if not recheck_after_s >= 0:  # also refuses NaN
            raise ValueError("recheck_after_s must be a number of seconds, 0 or more")
        if max_remembered < 1:
            raise ValueError("max_remembered must be at least 1")
        self._read_active = read_active
        self._recheck_after_s = recheck_after_s
        self._max_remembered = max_remembered
        self._found_active: dict[int, float] = {}  # user id: time.monotonic() when asked
        self._forgets = 0  # an answer asked for before a forget is not remembered
        self._lock = threading.Lock()  # `forget` may run in a `def` endpoint's thread

    def forget(self, user_id: int) -> None:
        """Ask about `user_id` at its next request: call it once the account is deactivated."""
        with self._lock:
            self._forgets += 1
            self._found_active.pop(user_id, None)

    def clear(self) -> None:
        """Forget every account (a test pointing the service at another database)."""
        with self._lock:
            self._forgets += 1
            self._found_active.clear()

    def current_user_id(self, verifier: Callable[..., Any]) -> Callable[..., Awaitable[int]]:
        """The dependency answering the verified caller's id (`verified_user_id(verifier)`),
        or a 401 if the account is deactivated or gone:

            CurrentUserId = Annotated[int, Depends(accounts.current_user_id(verify_bearer))]
        """

        async def active_user_id(user_id: int) -> int:
            asked = self._found_active.get(user_id)
            if asked is None or time.monotonic() - asked >= self._recheck_after_s:
                await self._ask(user_id)
            return user_id

        # Built here rather than written as an annotation: the verifier is known only now.
        parameter = inspect.Parameter(
            "user_id",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[int, Depends(verified_user_id(verifier))],
        )
        active_user_id.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [parameter], return_annotation=int
        )
        return active_user_id

    async def _ask(self, user_id: int) -> None:
        forgets, asked = self._forgets, time.monotonic()
        if not await self._read_active(user_id):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "the bearer token names no active account (sub)",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        with self._lock:
            if forgets != self._forgets:  # deactivated (or cleared) while we asked
                return
            self._found_active.pop(user_id, None)  # re-inserted last: the newest
            if len(self._found_active) >= self._max_remembered:
                del self._found_active[next(iter(self._found_active))]
            self._found_active[user_id] = asked
