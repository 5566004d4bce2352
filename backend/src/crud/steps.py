"""One implementation of every operation, run by a blocking or an asyncio driver.

An operation is a generator that yields *steps* (run this query, commit, hash
this password) and receives each step's result; it never touches a session
itself. `blocking()` runs it on a `Session`, `awaitable()` on an
`AsyncSession`, so the query logic, the user scoping and the error handling
exist once. An exception raised by a step is thrown back into the operation at
the `yield`, where it can be translated (an `IntegrityError` into a
`DuplicateEmailError`, say).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Executable, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel

from src.errors import SessionConfigurationError
from src.models.row_security import CURRENT_USER_SETTING

T = TypeVar("T")
P = ParamSpec("P")
C = TypeVar("C", bound=Callable[..., Any])


class Step(Protocol):
    def run(self, session: Session) -> Any: ...

    def run_async(self, session: AsyncSession) -> Awaitable[Any]: ...


Operation = Generator[Step, Any, T]


@dataclass(frozen=True, slots=True)
class First:
    """The first ORM object `statement` returns, or None."""

    statement: Executable
    parameters: Mapping[str, Any] | None = None

    def run(self, session: Session) -> Any:
        return session.scalars(self.statement, self.parameters).first()

    async def run_async(self, session: AsyncSession) -> Any:
        return (await session.scalars(self.statement, self.parameters)).first()


@dataclass(frozen=True, slots=True)
class All:
    """Every ORM object `statement` returns."""

    statement: Executable
    parameters: Mapping[str, Any] | None = None

    def run(self, session: Session) -> list[Any]:
        return list(session.scalars(self.statement, self.parameters))

    async def run_async(self, session: AsyncSession) -> list[Any]:
        return list(await session.scalars(self.statement, self.parameters))


@dataclass(frozen=True, slots=True)
class Rows:
    """Every row of `statement`, as tuples."""

    statement: Executable
    parameters: Mapping[str, Any] | None = None

    def run(self, session: Session) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in session.execute(self.statement, self.parameters)]

    async def run_async(self, session: AsyncSession) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await session.execute(self.statement, self.parameters)]


@dataclass(frozen=True, slots=True)
class RowCount:
    """How many rows an UPDATE or DELETE `statement` matched."""

    statement: Executable
    parameters: Mapping[str, Any] | None = None

    def run(self, session: Session) -> int:
        result = session.execute(self.statement, self.parameters)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def run_async(self, session: AsyncSession) -> int:
        result = await session.execute(self.statement, self.parameters)
        return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ExecuteMany:
    """`statement` once per parameter set, batched by the driver (bulk INSERT)."""

    statement: Executable
    parameters: Sequence[dict[str, Any]]

    def run(self, session: Session) -> None:
        session.execute(self.statement, self.parameters)

    async def run_async(self, session: AsyncSession) -> None:
        await session.execute(self.statement, self.parameters)


_NAME_USER = text("SELECT set_config(:setting, :user_id, true)")
_NAMED_USER = "todo.row_security_user"  # key in Session.info: (transaction, user_id)


@dataclass(frozen=True, slots=True)
class ActAs:
    """Name the user for PostgreSQL's row security, for the current transaction only.

    `set_config(..., true)` is `SET LOCAL`: it ends with the transaction, so a
    transaction-mode pooler never hands it to another client. It is sent once
    per transaction (and savepoint) and user: the session remembers which
    transaction it was sent in, so later operations in the same transaction
    save the round trip. SQLite has no row security; there it sends nothing.
    On both, a session that would expire the todos it returns is refused
    (`SessionConfigurationError`).
    """

    user_id: int

    def run(self, session: Session) -> None:
        if session.expire_on_commit:
            raise SessionConfigurationError
        if _needs_naming(session, self.user_id):
            session.connection().execute(_NAME_USER, _naming_parameters(self.user_id))
            _remember(session, self.user_id)

    async def run_async(self, session: AsyncSession) -> None:
        if session.sync_session.expire_on_commit:
            raise SessionConfigurationError
        if _needs_naming(session.sync_session, self.user_id):
            connection = await session.connection()
            await connection.execute(_NAME_USER, _naming_parameters(self.user_id))
            _remember(session.sync_session, self.user_id)


def _current_transaction(session: OrmSession) -> object | None:
    """The innermost transaction the session is in: a savepoint's rollback undoes set_config."""
    return session.get_nested_transaction() or session.get_transaction()


def _needs_naming(session: OrmSession, user_id: int) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return False
    named = session.info.get(_NAMED_USER)
    transaction = _current_transaction(session)
    return transaction is None or named != (transaction, user_id)


def _naming_parameters(user_id: int) -> dict[str, str]:
    return {"setting": CURRENT_USER_SETTING, "user_id": str(user_id)}


def _remember(session: OrmSession, user_id: int) -> None:
    session.info[_NAMED_USER] = (_current_transaction(session), user_id)


@dataclass(frozen=True, slots=True)
class Add:
    row: SQLModel

    def run(self, session: Session) -> None:
        session.add(self.row)

    async def run_async(self, session: AsyncSession) -> None:
        session.add(self.row)


@dataclass(frozen=True, slots=True)
class Commit:
    def run(self, session: Session) -> None:
        session.commit()

    async def run_async(self, session: AsyncSession) -> None:
        await session.commit()


@dataclass(frozen=True, slots=True)
class Rollback:
    def run(self, session: Session) -> None:
        session.rollback()

    async def run_async(self, session: AsyncSession) -> None:
        await session.rollback()


@dataclass(frozen=True, slots=True)
class Compute:
    """CPU-bound work (password hashing): inline when blocking, in a thread under asyncio."""

    function: Callable[..., Any]
    arguments: tuple[Any, ...]

    def run(self, _session: Session) -> Any:
        return self.function(*self.arguments)

    async def run_async(self, _session: AsyncSession) -> Any:
        return await asyncio.to_thread(self.function, *self.arguments)


def blocking(operation: Callable[P, Operation[T]]) -> Callable[Concatenate[Session, P], T]:
    """The operation as a plain function taking a `Session` first."""

    def call(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> T:
        steps = operation(*args, **kwargs)
        step, value = _resume(steps, None, None)
        while step is not None:
            try:
                result, error = step.run(session), None
            except Exception as exc:
                result, error = None, exc
            step, value = _resume(steps, result, error)
        return value  # type: ignore[no-any-return]

    return _named_like(call, operation)


def awaitable(
    operation: Callable[P, Operation[T]],
) -> Callable[Concatenate[AsyncSession, P], Awaitable[T]]:
    """The operation as a coroutine function taking an `AsyncSession` first."""

    async def call(session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> T:
        steps = operation(*args, **kwargs)
        step, value = _resume(steps, None, None)
        while step is not None:
            try:
                result, error = await step.run_async(session), None
            except Exception as exc:
                result, error = None, exc
            step, value = _resume(steps, result, error)
        return value  # type: ignore[no-any-return]

    return _named_like(call, operation)


def _resume(
    steps: Operation[Any], result: Any, error: BaseException | None
) -> tuple[Step | None, Any]:
    """Hand the last step's outcome to the operation: its next step, or its return value."""
    try:
        return (steps.send(result) if error is None else steps.throw(error)), None
    except StopIteration as done:
        return None, done.value


def _named_like(call: C, operation: Callable[..., Any]) -> C:
    call.__name__ = call.__qualname__ = operation.__name__
    call.__doc__ = operation.__doc__
    call.__module__ = operation.__module__
    return call
