"""Interrupts and cancellation reach the caller as themselves; the pool stays usable.

What a user meets: Ctrl-C (SIGINT, `KeyboardInterrupt`) or a SIGTERM handler
that calls `sys.exit` (`SystemExit`) while a script waits on the database; a
FastAPI request whose client went away (its task is cancelled); an
`asyncio.timeout` around an operation. The signals here are real signals
(SIGALRM from an interval timer, whose handler raises what SIGINT or SIGTERM
would), the waits are real row locks held by another transaction, the
cancellations are real task cancellations.

None of them is a database failure, so none may come back as
`DatabaseConnectionError`; the one connection they cut is discarded (its
state is unknown) and no other, and nothing half-written stays.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import Session, col

from src import crud
from src.crud import aio
from src.models import Todo, TodoCreate, TodoUpdate
from tests.conftest import add_user, add_user_async, tid, uid

INTERRUPTS: list[type[BaseException]] = [KeyboardInterrupt, SystemExit]
LOCK_HELD_S = 1.0
INTERRUPT_AFTER_S = 0.3


@contextmanager
def interrupt_after(seconds: float, raising: type[BaseException]) -> Iterator[None]:
    """A real signal arrives after `seconds`; its handler raises what Ctrl-C or SIGTERM would."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise raising()

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def row_locked(engine: Engine, user_id: int, todo_id: int, held_s: float) -> Iterator[None]:
    """Another transaction holds the todo's row lock for `held_s`, then commits (a slow request)."""
    holder = Session(engine)
    holder.begin()
    holder.execute(text(f"SET LOCAL app.current_user_id = '{user_id}'"))
    holder.execute(select(Todo).where(col(Todo.id) == todo_id).with_for_update()).one()
    release = threading.Timer(held_s, holder.commit)
    release.start()
    try:
        yield
    finally:
        release.join()
        holder.close()


def title_of(engine: Engine, user_id: int, todo_id: int) -> str:
    with Session(engine) as session:
        return crud.get_todo(session, user_id, todo_id).title


def pool_in_use(engine: Engine) -> int:
    """How many connections are checked out of `engine`'s pool (StaticPool: none counted)."""
    return int(getattr(engine.pool, "checkedout", lambda: 0)())


def assert_pool_usable(engine: Engine, user_id: int) -> None:
    """Nothing checked out is left behind, and a fresh operation works at once."""
    assert pool_in_use(engine) == 0
    with Session(engine) as session:
        assert crud.count_todos(session, user_id).total >= 0


@pytest.fixture
def owner(session: Session) -> int:
    return uid(add_user(session, "waits@example.com"))


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("row locks: SQLite locks the whole database, tested with bulk writes below")


@pytest.mark.usefixtures("postgres_only")
@pytest.mark.parametrize("interrupt", INTERRUPTS, ids=lambda e: e.__name__)
def test_a_signal_during_a_wait_on_the_database_is_raised_as_itself(
    engine: Engine, session: Session, owner: int, interrupt: type[BaseException]
) -> None:
    todo_id = tid(crud.create_todo(session, owner, TodoCreate(title="contended")))
    with (
        row_locked(engine, owner, todo_id, LOCK_HELD_S),
        pytest.raises(interrupt),
        interrupt_after(INTERRUPT_AFTER_S, interrupt),
    ):
        crud.update_todo(session, owner, todo_id, TodoUpdate(title="interrupted"))
    assert_pool_usable(engine, owner)
    # The interrupted session keeps working; no reload was attempted after the interrupt
    # (it could have waited on an unreachable database), the next operation refreshes.
    assert crud.get_todo(session, owner, todo_id).id == todo_id


@pytest.mark.parametrize("interrupt", INTERRUPTS, ids=lambda e: e.__name__)
def test_a_signal_during_a_bulk_create_leaves_all_or_nothing(
    engine: Engine, session: Session, owner: int, interrupt: type[BaseException]
) -> None:
    items = [TodoCreate(title=f"item {i}") for i in range(5_000)]
    started = time.perf_counter()
    crud.create_todos(session, owner, items)  # how long one takes here
    took = time.perf_counter() - started
    raised: list[BaseException] = []
    for fraction in (0.2, 0.5, 0.8):
        try:
            with interrupt_after(took * fraction, interrupt):
                crud.create_todos(session, owner, items)
                time.sleep(took)  # the signal lands here if the operation was quicker
        except BaseException as exc:  # the test inspects what came out
            raised.append(exc)
        assert crud.count_todos(session, owner).total % len(items) == 0  # never a part
    assert raised
    assert all(type(exc) is interrupt for exc in raised), raised
    assert_pool_usable(engine, owner)


@pytest.mark.usefixtures("postgres_only")
async def test_a_cancelled_task_stays_cancelled_and_its_statement_is_cancelled(
    engine: Engine, async_engine: AsyncEngine, session: Session, owner: int
) -> None:
    todo = crud.create_todo(session, owner, TodoCreate(title="contended"))
    with row_locked(engine, owner, tid(todo), LOCK_HELD_S):
        async with AsyncSession(async_engine) as async_session:
            task: asyncio.Task[Todo] = asyncio.create_task(
                aio.update_todo(  # type: ignore[arg-type]  # aio's operations are coroutines
                    async_session, owner, tid(todo), TodoUpdate(title="cancelled")
                )
            )
            await asyncio.sleep(INTERRUPT_AFTER_S)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert task.cancelled()
    # psycopg 3 cancelled the statement on the server: the lock holder's commit
    # was not followed by the update.
    assert title_of(engine, owner, tid(todo)) == "contended"
    assert pool_in_use(async_engine.sync_engine) == 0
    assert (await aio_count(async_engine, owner)) == 1


@pytest.mark.usefixtures("postgres_only")
async def test_a_timeout_around_an_operation_is_a_timeout_error(
    engine: Engine, async_engine: AsyncEngine, session: Session, owner: int
) -> None:
    todo = crud.create_todo(session, owner, TodoCreate(title="contended"))
    with row_locked(engine, owner, tid(todo), LOCK_HELD_S):
        async with AsyncSession(async_engine) as async_session:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(INTERRUPT_AFTER_S):
                    await aio.update_todo(
                        async_session, owner, tid(todo), TodoUpdate(title="too late")
                    )
            # The same session answers the next operation.
            assert (await aio.get_todo(async_session, owner, tid(todo))).title == "contended"
    assert title_of(engine, owner, tid(todo)) == "contended"
    assert pool_in_use(async_engine.sync_engine) == 0


async def test_a_cancelled_bulk_create_leaves_all_or_nothing(
    async_engine: AsyncEngine, async_session: AsyncSession
) -> None:
    # Made on the asyncio engine: on SQLite it is an in-memory database of its own.
    owner = await add_user_async(async_session, "waits@example.com")
    items = [TodoCreate(title=f"item {i}") for i in range(5_000)]
    for delay in (0.0, 0.02, 0.1):
        async with AsyncSession(async_engine) as cancelled:
            task: asyncio.Task[int] = asyncio.create_task(
                aio.create_todos(cancelled, owner, items)  # type: ignore[arg-type]
            )
            await asyncio.sleep(delay)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                assert task.cancelled()
        assert (await aio_count(async_engine, owner)) % len(items) == 0  # never a part
    assert pool_in_use(async_engine.sync_engine) == 0
    assert (await aio.get_user(async_session, owner)) is not None  # and the pool answers


async def aio_count(async_engine: AsyncEngine, owner: int) -> int:
    async with AsyncSession(async_engine) as async_session:
        return (await aio.count_todos(async_session, owner)).total
