"""The asyncio operations: the same rules as the blocking ones, on every backend.

SQLite through aiosqlite, PostgreSQL through psycopg 3, and psycopg 3 through
PgBouncer in transaction mode over TLS with no pooler setting at all.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from src.crud import aio
from src.database.async_connection import async_url, build_async_engine
from src.errors import (
    DatabaseConnectionError,
    DuplicateEmailError,
    InvalidCursorError,
    PoolExhaustedError,
    TodoNotFoundError,
)
from src.models import TodoCreate, TodoUpdate, User, UserCreate
from tests.conftest import add_user_async, settings_for
from tests.standins.neon_local import NeonLikeServer


@pytest.fixture
def session(async_session: AsyncSession) -> AsyncSession:
    """The shared rolled-back `async_session` (tests/conftest.py), named as these tests use it."""
    return async_session


async def test_register_authenticate_and_refuse_duplicates(session: AsyncSession) -> None:
    password = SecretStr("async password!")
    user = await aio.create_user(session, UserCreate(email="Ann@Example.com", password=password))
    assert await aio.authenticate(session, "ann@example.com", password) == user
    assert await aio.authenticate(session, "ann@example.com", SecretStr("nope nope")) is None
    assert await aio.authenticate(session, "zed@example.com", password) is None
    with pytest.raises(DuplicateEmailError):
        await aio.create_user(session, UserCreate(email="ANN@example.com", password=password))
    assert await aio.get_user_by_email(session, "ANN@EXAMPLE.COM") == user


async def test_todo_lifecycle(session: AsyncSession) -> None:
    ann = await add_user_async(session, "ann@example.com")
    todo = await aio.create_todo(session, ann, TodoCreate(title=" write tests "))
    assert todo.id is not None
    assert todo.title == "write tests"
    updated = await aio.update_todo(session, ann, todo.id, TodoUpdate(description="async"))
    assert (updated.title, updated.description) == ("write tests", "async")
    assert (await aio.toggle_completed(session, ann, todo.id)).completed is True
    assert (await aio.set_completed(session, ann, todo.id, False)).completed is False
    assert (await aio.get_todo(session, ann, todo.id)).description == "async"
    await aio.delete_todo(session, ann, todo.id)
    with pytest.raises(TodoNotFoundError):
        await aio.get_todo(session, ann, todo.id)


async def test_another_users_todo_looks_missing(session: AsyncSession) -> None:
    ann, bob = (
        await add_user_async(session, "ann@example.com"),
        await add_user_async(session, "bob@example.com"),
    )
    bobs = await aio.create_todo(session, bob, TodoCreate(title="bob's"))
    assert bobs.id is not None
    for attempt in (
        aio.get_todo(session, ann, bobs.id),
        aio.toggle_completed(session, ann, bobs.id),
        aio.update_todo(session, ann, bobs.id, TodoUpdate(title="mine now")),
        aio.delete_todo(session, ann, bobs.id),
    ):
        with pytest.raises(TodoNotFoundError, match=f"^todo {bobs.id} not found$"):
            await attempt
    after = await aio.get_todo(session, bob, bobs.id)
    assert (after.title, after.completed) == ("bob's", False)


async def test_bulk_create_pages_and_counts(session: AsyncSession) -> None:
    ann = await add_user_async(session, "ann@example.com")
    created = await aio.create_todos(
        session, ann, [TodoCreate(title=f"t{i}", completed=i % 2 == 0) for i in range(25)]
    )
    assert created == 25
    seen: list[int] = []
    cursor = None
    while True:
        page = await aio.list_todos(session, ann, limit=10, cursor=cursor)
        seen += [t.id for t in page.items if t.id is not None]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 25
    assert seen == sorted(seen, reverse=True)
    assert await aio.count_todos(session, ann) == aio.TodoCounts(total=25, completed=13, open=12)
    with pytest.raises(InvalidCursorError):
        await aio.list_todos(session, ann, cursor="not-a-cursor")


async def test_bad_arguments_are_refused_by_name(session: AsyncSession) -> None:
    with pytest.raises(ValidationError) as caught:
        await aio.list_todos(session, 1, limit=201)
    assert caught.value.errors()[0]["loc"] == ("limit",)


async def test_many_statements_in_a_row_work_behind_the_pooler(session: AsyncSession) -> None:
    """Cached prepared statements would fail here behind a transaction-mode pooler."""
    ann = await add_user_async(session, "ann@example.com")
    for i in range(30):
        await aio.create_todo(session, ann, TodoCreate(title=f"t{i}"))
        assert (await aio.count_todos(session, ann)).total == i + 1


async def test_async_path_uses_tls_through_the_pooler(neon_like: NeonLikeServer) -> None:
    engine = build_async_engine(settings_for(neon_like.pooler_url()))
    try:
        async with engine.connect() as connection:
            query = text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            assert await connection.scalar(query) is True
    finally:
        await engine.dispose()


def test_async_engine_reads_the_url_as_libpq_does() -> None:
    """Every query parameter reaches libpq untouched; nothing depends on the host name."""
    query = "sslmode=require&channel_binding=require&options=endpoint%3Dep-x&connect_timeout=3"
    for host in ("ep-x-pooler.us-east-2.aws.neon.tech", "ep-x.us-east-2.aws.neon.tech", "db"):
        url, connect_args = async_url(settings_for(f"postgresql://u:pw@{host}/db?{query}"))
        assert url.drivername == "postgresql+psycopg"
        assert dict(url.query) == {
            "sslmode": "require",
            "channel_binding": "require",
            "options": "endpoint=ep-x",
            "connect_timeout": "3",
        }
        assert connect_args["prepare_threshold"] is None  # safe behind any pooler
        assert "connect_timeout" not in connect_args  # the URL's own value wins
        assert connect_args["application_name"] == "todo-data-layer"


async def test_async_engine_retries_then_fails_with_a_typed_error() -> None:
    engine = build_async_engine(
        settings_for("postgresql://u:pw-never-shown@127.0.0.1:1/db", DB_CONNECT_RETRY_BUDGET_S=1)
    )
    try:
        with pytest.raises(DatabaseConnectionError, match=r"after [2-9]\d* attempt\(s\)") as caught:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert "pw-never-shown" not in str(caught.value)


async def test_async_pool_exhaustion_raises_a_typed_error(neon_like: NeonLikeServer) -> None:
    engine = build_async_engine(
        settings_for(
            neon_like.direct_url(), DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT_S=0.3
        )
    )
    try:
        async with engine.connect():
            with pytest.raises(PoolExhaustedError):
                async with engine.connect():
                    pass
    finally:
        await engine.dispose()


async def test_package_sessions_are_sqlmodel_sessions_with_exec(
    async_engine: AsyncEngine, backend: str
) -> None:
    """`await session.exec(select(...))`, which every SQLModel user writes, works."""
    from sqlmodel import select
    from sqlmodel.ext.asyncio.session import AsyncSession as SQLModelAsyncSession

    from src.database.async_connection import async_session_scope, new_async_session

    async with new_async_session(async_engine) as session:
        assert isinstance(session, SQLModelAsyncSession)
        assert (await session.exec(select(User).where(User.id == -1))).first() is None
    async with async_session_scope(async_engine) as session:
        assert isinstance(session, SQLModelAsyncSession)
        assert list(await session.exec(select(User).where(User.id == -1))) == []


async def test_unknown_email_costs_one_verification_on_the_async_path_too(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown email and a wrong password each cost one Argon2 verification, in a thread."""
    import threading

    from src.security import passwords

    await add_user_async(session, "ann@example.com")
    verified: list[tuple[str, bool]] = []
    hasher = passwords._password_hash.current_hasher
    real_verify = hasher.verify
    loop_thread = threading.get_ident()

    def counting_verify(password: str | bytes, hash_: str | bytes) -> bool:
        verified.append((str(hash_)[:31], threading.get_ident() != loop_thread))
        return real_verify(password, hash_)

    monkeypatch.setattr(hasher, "verify", counting_verify)
    assert await aio.authenticate(session, "nobody@example.com", SecretStr("whatever pw")) is None
    assert await aio.authenticate(session, "ann@example.com", SecretStr("wrong password")) is None
    assert verified == [("$argon2id$v=19$m=19456,t=2,p=1$", True)] * 2
