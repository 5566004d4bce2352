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
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Executable, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session, SQLModel

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

    def run(self, session: Session) -> Any:
        return session.scalars(self.statement).first()

    async def run_async(self, session: AsyncSession) -> Any:
        return (await session.scalars(self.statement)).first()


@dataclass(frozen=True, slots=True)
class All:
    """Every ORM object `statement` returns."""

    statement: Executable

    def run(self, session: Session) -> list[Any]:
        return list(session.scalars(self.statement))

    async def run_async(self, session: AsyncSession) -> list[Any]:
        return list(await session.scalars(self.statement))


@dataclass(frozen=True, slots=True)
class Rows:
    """Every row of `statement`, as tuples."""

    statement: Executable

    def run(self, session: Session) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in session.execute(self.statement)]

    async def run_async(self, session: AsyncSession) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await session.execute(self.statement)]


@dataclass(frozen=True, slots=True)
class RowCount:
    """How many rows an UPDATE or DELETE `statement` matched."""

    statement: Executable

    def run(self, session: Session) -> int:
        return int(session.execute(self.statement).rowcount)  # type: ignore[attr-defined]

    async def run_async(self, session: AsyncSession) -> int:
        return int((await session.execute(self.statement)).rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ExecuteMany:
    """`statement` once per parameter set, batched by the driver (bulk INSERT)."""

    statement: Executable
    parameters: Sequence[dict[str, Any]]

    def run(self, session: Session) -> None:
        session.execute(self.statement, self.parameters)

    async def run_async(self, session: AsyncSession) -> None:
        await session.execute(self.statement, self.parameters)


@dataclass(frozen=True, slots=True)
class ActAs:
    """Name the user for PostgreSQL's row security, for the current transaction only.

    `set_config(..., true)` is `SET LOCAL`: it ends with the transaction, so a
    transaction-mode pooler never hands it to another client. SQLite has no
    row security; there this does nothing.
    """

    user_id: int

    def _statement(self) -> Executable:
        return select(func.set_config(CURRENT_USER_SETTING, str(self.user_id), true()))

    def run(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(self._statement())

    async def run_async(self, session: AsyncSession) -> None:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(self._statement())


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
