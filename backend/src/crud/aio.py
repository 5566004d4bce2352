"""The user-scoped operations for an `AsyncSession`: the same functions as `src.crud`.

    todo = await aio.create_todo(session, user_id, TodoCreate(title="..."))

Each runs the blocking implementation through `AsyncSession.run_sync`,
SQLAlchemy's documented way to share ORM code with asyncio: the function runs
in the session's greenlet, its I/O is awaited on the event loop. The
operations that hash or check a password do it in a worker thread, between
the blocking function's own SQL parts, so Argon2 never blocks the loop and no
transaction or connection is held meanwhile; everything else is CPU-light.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from src.crud import accounts, todos, users
from src.crud.arguments import EmailLookup, RowId, refused, validated
from src.crud.todos import TodoCounts, TodoPage
from src.models import User, UserCreate
from src.models.user import CurrentPassword
from src.security.passwords import check_password_async, hash_password

P = ParamSpec("P")
T = TypeVar("T")


def _on_async_session(
    operation: Callable[Concatenate[Session, P], T],
) -> Callable[Concatenate[AsyncSession, P], Awaitable[T]]:
    """`operation` as a coroutine function taking an `AsyncSession` first, same parameters."""

    @functools.wraps(operation)
    async def run(session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> T:
        if not isinstance(session, AsyncSession):  # as the blocking operations refuse a non-Session
            raise refused("session", "is_instance_of", "Input should be an AsyncSession")
        return await session.run_sync(operation, *args, **kwargs)

    signature = inspect.signature(operation)
    first, *rest = signature.parameters.values()
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]  # help() and IDEs
        parameters=[first.replace(annotation=AsyncSession), *rest]
    )
    return run


get_user = _on_async_session(users.get_user)
get_user_by_email = _on_async_session(users.get_user_by_email)
delete_user = _on_async_session(users.delete_user)
set_active = _on_async_session(accounts.set_active)

create_todo = _on_async_session(todos.create_todo)
create_todos = _on_async_session(todos.create_todos)
get_todo = _on_async_session(todos.get_todo)
update_todo = _on_async_session(todos.update_todo)
set_completed = _on_async_session(todos.set_completed)
toggle_completed = _on_async_session(todos.toggle_completed)
delete_todo = _on_async_session(todos.delete_todo)
list_todos = _on_async_session(todos.list_todos)
count_todos = _on_async_session(todos.count_todos)


@validated
async def create_user(session: AsyncSession, data: UserCreate) -> User:
    """`src.crud.create_user`, with the Argon2id hashing in a worker thread."""
    password_hash = await asyncio.to_thread(hash_password, data.password)
    return await session.run_sync(users.register, data.email, password_hash)


@validated
async def authenticate(
    session: AsyncSession, email: EmailLookup, password: SecretStr
) -> User | None:
    """`src.crud.authenticate`, with the verification (or its decoy) in a worker thread.

    The lookup and the acceptance are the blocking function's own parts; the
    check between them is `check_password`'s asyncio twin, so a failed login
    lasts the same time here too, waiting on the event loop, not in a thread.
    """
    user = await session.run_sync(users.get_user_by_email, email)
    verdict = await check_password_async(password, users.stored_hash(user))
    return await session.run_sync(users.accept_login, user, verdict)


@validated
async def update_user(session: AsyncSession, user_id: RowId, data: accounts.CheckedUpdate) -> User:
    """`src.crud.update_user`: the check of the current password as `authenticate` does it,
    then the new password's hashing in a worker thread, between the blocking parts."""
    account = await session.run_sync(accounts.account_to_change, user_id)
    proof = await _confirmed(account, data.current_password)
    new_hash = None
    if data.new_password is not None:
        new_hash = await asyncio.to_thread(hash_password, data.new_password)
    return await session.run_sync(
        accounts.store_change, proof, accounts.changed_values(data, new_hash)
    )


@validated
async def deactivate_user(
    session: AsyncSession, user_id: RowId, current_password: CurrentPassword
) -> User:
    """`src.crud.deactivate_user`, with the password's check off the event loop."""
    account = await session.run_sync(accounts.account_to_change, user_id)
    proof = await _confirmed(account, current_password)
    return await session.run_sync(accounts.store_change, proof, accounts.DEACTIVATED)


async def _confirmed(account: User, password: SecretStr) -> accounts.Confirmation:
    verdict = await check_password_async(password, users.stored_hash(account))
    return accounts.confirmed(account, verdict)


__all__ = [
    "TodoCounts",
    "TodoPage",
    "authenticate",
    "count_todos",
    "create_todo",
    "create_todos",
    "create_user",
    "deactivate_user",
    "delete_todo",
    "delete_user",
    "get_todo",
    "get_user",
    "get_user_by_email",
    "list_todos",
    "set_active",
    "set_completed",
    "toggle_completed",
    "update_todo",
    "update_user",
]
