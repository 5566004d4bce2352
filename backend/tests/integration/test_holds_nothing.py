"""An operation holds nothing once it returns, and nothing while a password is hashed.

A transaction left open holds locks (an Alembic upgrade waits on them), a
transaction-mode pooler's server connection, and on SQLite a read snapshot
that makes a later write fail with `database is locked`. Argon2 takes 50-200
ms per call: a transaction or pooled connection held across it would be held
that long for nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from src import crud
from src.crud import aio
from src.database.connection import build_engine
from src.database.migrations import upgrade_to_head
from src.models import TodoCreate, TodoUpdate, User, UserCreate
from tests.conftest import add_user, add_user_async, settings_for, tid, uid
from tests.integration.test_passwords_migrated_in import PASSWORD, bcrypt_hash

SECRET = SecretStr(PASSWORD)


def _pool_in_use(engine: Engine) -> int:
    checked_out: Callable[[], int] | None = getattr(engine.pool, "checkedout", None)
    return 0 if checked_out is None else checked_out()  # StaticPool: SQLite in memory


@pytest.fixture
def while_hashing(monkeypatch: pytest.MonkeyPatch) -> Callable[[Session, Engine], list[Any]]:
    """Record, at every hash and verification, whether a transaction or connection is held."""

    def watch(session: Session, engine: Engine) -> list[Any]:
        seen: list[Any] = []

        def wrap(module: Any, name: str) -> None:
            real = getattr(module, name)

            def recording(*args: Any) -> Any:
                seen.append((name, session.in_transaction(), _pool_in_use(engine)))
                return real(*args)

            monkeypatch.setattr(module, name, recording)

        from src.crud import aio as aio_module
        from src.crud import users
        from src.security import passwords

        wrap(users, "hash_password")
        for name in ("verify_password", "burn_verification_time"):  # called by check_password
            wrap(passwords, name)
        wrap(aio_module, "hash_password")
        return seen

    return watch


def test_no_transaction_or_connection_is_held_while_a_password_is_hashed(
    session: Session, engine: Engine, while_hashing: Callable[[Session, Engine], list[Any]]
) -> None:
    old = User.model_validate(
        {"email": "old@example.com", "hashed_password": bcrypt_hash(PASSWORD)}
    )
    session.add(old)
    session.commit()
    seen = while_hashing(session, engine)
    crud.create_user(session, UserCreate(email="new@example.com", password=SECRET))
    assert crud.authenticate(session, "new@example.com", SECRET) is not None
    assert crud.authenticate(session, "nobody@example.com", SECRET) is None
    assert crud.authenticate(session, "old@example.com", SECRET) is old  # re-hashed after
    assert old.hashed_password.startswith("$argon2id$")
    assert [name for name, *_ in seen] == [
        "hash_password",
        "verify_password",
        "burn_verification_time",
        "verify_password",
    ]
    assert {(in_transaction, in_use) for _, in_transaction, in_use in seen} == {(False, 0)}


async def test_no_transaction_or_connection_is_held_while_hashing_on_the_async_path(
    async_session: AsyncSession,
    async_engine: AsyncEngine,
    while_hashing: Callable[[Session, Engine], list[Any]],
) -> None:
    seen = while_hashing(async_session.sync_session, async_engine.sync_engine)
    await aio.create_user(async_session, UserCreate(email="new@example.com", password=SECRET))
    assert await aio.authenticate(async_session, "new@example.com", SECRET) is not None
    assert await aio.authenticate(async_session, "nobody@example.com", SECRET) is None
    assert len(seen) == 3
    assert {(in_transaction, in_use) for _, in_transaction, in_use in seen} == {(False, 0)}


def test_no_operation_returns_holding_a_transaction_or_a_connection(
    session: Session, engine: Engine
) -> None:
    ann = uid(add_user(session, "ann@example.com"))
    todo = tid(crud.create_todo(session, ann, TodoCreate(title="t")))
    calls: list[Callable[[], object]] = [
        lambda: crud.get_todo(session, ann, todo),
        lambda: crud.list_todos(session, ann),
        lambda: crud.count_todos(session, ann),
        lambda: crud.update_todo(session, ann, todo, TodoUpdate(title="u")),
        lambda: crud.toggle_completed(session, ann, todo),
        lambda: crud.get_user(session, ann),
        lambda: crud.get_user_by_email(session, "ann@example.com"),
        lambda: crud.create_todos(session, ann, [TodoCreate(title=f"{i}") for i in range(1500)]),
        lambda: crud.delete_todo(session, ann, todo),
    ]
    for call in calls:
        call()
        assert (session.in_transaction(), _pool_in_use(engine)) == (False, 0)


def test_a_read_returns_what_the_database_holds_now_and_refreshes_the_held_copy(
    session: Session, engine: Engine
) -> None:
    ann = uid(add_user(session, "ann@example.com"))
    held = crud.create_todo(session, ann, TodoCreate(title="before"))
    with Session(engine) as another_request:
        crud.update_todo(another_request, ann, tid(held), TodoUpdate(title="after"))
        crud.create_todo(another_request, ann, TodoCreate(title="second"))
    assert crud.get_todo(session, ann, tid(held)) is held
    assert held.title == "after"
    held_user = crud.get_user(session, ann)
    assert held_user is not None
    with Session(engine) as another_request:
        another_request.execute(
            update(User).where(User.id == ann).values(hashed_password="$argon2id$changed")  # type: ignore[arg-type]
        )
        another_request.commit()
    assert crud.get_user_by_email(session, "ann@example.com") is held_user
    assert held_user.hashed_password == "$argon2id$changed"
    titles = [todo.title for todo in crud.list_todos(session, ann).items]
    assert titles == ["second", "after"]
    assert crud.count_todos(session, ann).total == len(titles)


async def test_an_async_read_refreshes_the_held_copy(
    async_session: AsyncSession, async_engine: AsyncEngine
) -> None:
    ann = await add_user_async(async_session, "ann@example.com")
    held = await aio.create_todo(async_session, ann, TodoCreate(title="before"))
    async with AsyncSession(async_engine) as another_request:
        await aio.update_todo(another_request, ann, tid(held), TodoUpdate(title="after"))
    assert await aio.get_todo(async_session, ann, tid(held)) is held
    assert held.title == "after"


def test_on_sqlite_a_write_after_a_read_succeeds_while_other_sessions_write(
    tmp_path: Path,
) -> None:
    """A read that kept its transaction kept a stale snapshot: the write after it failed at once
    with `database is locked` when another session had committed in between."""
    engine = build_engine(settings_for(f"sqlite:///{tmp_path / 'todo.db'}"))
    try:
        upgrade_to_head(engine)
        with Session(engine) as first, Session(engine) as second:
            ann = uid(crud.create_user(first, UserCreate(email="ann@example.com", password=SECRET)))
            assert crud.count_todos(first, ann).total == 0  # a read on the first session
            crud.create_todo(second, ann, TodoCreate(title="from another request"))
            crud.create_todo(first, ann, TodoCreate(title="after my read"))
            assert crud.count_todos(first, ann).total == 2
    finally:
        engine.dispose()
