"""Shared fixtures: one engine per backend per run, one rolled-back transaction per test.

Every integration test runs on SQLite (in memory) and on PostgreSQL. The
PostgreSQL run creates a fresh database on the server named by
`TEST_DATABASE_URL` (default: the local server on 127.0.0.1:5432) and drops
it at the end. Without a server the PostgreSQL tests skip, except under
`CI=true`, where they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import psycopg2
import pytest
from hypothesis import HealthCheck, settings
from psycopg2 import sql
from sqlalchemy import Engine, delete, event, inspect, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import Session, SQLModel

from src.config.settings import Settings, parse_database_url
from src.database.async_connection import build_async_engine
from src.database.connection import build_engine
from src.database.migrations import upgrade_to_head
from src.database.roles import grant_application_role
from src.models import Todo, User
from src.models.row_security import act_as as name_user
from tests.standins.neon_local import APP_USER, NeonLikeServer
from tests.standins.replica_local import ReplicatedServer

LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# A real Argon2id hash, so fixtures can make users without paying for hashing.
KNOWN_PASSWORD = "correct horse battery"
KNOWN_PASSWORD_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$c7HeugnlexhmisJRoaXs4w$"
    "plgIgevUU5Eg9c092QmooxHHg7ML8h05QY1KpbEXzfA"
)


@contextmanager
def statements_sent(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement `engine` sends while the block runs (its listener is removed after)."""
    sent: list[str] = []

    def record(*args: object) -> None:
        sent.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def settings_for(url: str | URL, **overrides: object) -> Settings:
    """Settings for tests: only what is passed, never the developer's `.env`."""
    values: dict[str, Any] = {"DATABASE_URL": url, **overrides}
    return Settings(_env_file=None, **values)


def unavailable(reason: str) -> NoReturn:
    """Skip a test whose database is missing; under CI=true fail instead, never skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (under CI=true database tests must run)", pytrace=False)
    pytest.skip(reason)


def _server_url() -> URL:
    return parse_database_url(os.environ.get("TEST_DATABASE_URL", LOCAL_POSTGRES_URL))


def _psycopg2_dsn(url: URL, database: str | None = None) -> str:
    return url.set(drivername="postgresql", database=database or url.database).render_as_string(
        hide_password=False
    )


class PostgresServer:
    """The PostgreSQL server the tests run on; creates and drops databases of their own."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self._admin = psycopg2.connect(_psycopg2_dsn(url), connect_timeout=5)
        self._admin.autocommit = True

    def create_database(self) -> URL:
        name = f"todo_test_{uuid.uuid4().hex[:12]}"
        with self._admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url.set(database=name)

    def drop_database(self, url: URL) -> None:
        with self._admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(str(url.database))
                )
            )

    def exists(self, catalog: str, column: str, name: str) -> bool:
        """Whether a database or role called `name` exists (catalogs are fixed strings)."""
        query = sql.SQL("SELECT 1 FROM {} WHERE {} = %s").format(
            sql.Identifier(catalog), sql.Identifier(column)
        )
        with self._admin.cursor() as cursor:
            cursor.execute(query, (name,))
            return cursor.fetchone() is not None

    def execute(self, statement: sql.Composable) -> None:
        with self._admin.cursor() as cursor:
            cursor.execute(statement)

    def drop_role(self, database_url: URL, role: str) -> None:
        """Revoke what `role` holds in the database, then drop it."""
        engine = build_engine(settings_for(database_url))
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
        engine.dispose()
        self.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))

    def close(self) -> None:
        self._admin.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    url = _server_url()
    try:
        server = PostgresServer(url)
    except psycopg2.OperationalError as exc:
        unavailable(
            f"PostgreSQL at {url.render_as_string()} is not answering: {str(exc).strip()}; "
            "start it or set TEST_DATABASE_URL"
        )
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> Iterator[URL]:
    """A database of its own for this test run, migrated, dropped afterwards (as its owner)."""
    url = postgres_server.create_database()
    migrate(url)
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def postgres_app_url(postgres_server: PostgresServer, postgres_url: URL) -> Iterator[URL]:
    """The test database as a least-privilege role, so row security applies."""
    role, password = f"todo_app_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    postgres_server.execute(  # a password too, for servers that check one (a Neon branch)
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )
    grant(postgres_url, role)
    yield postgres_url.set(username=role, password=password)
    postgres_server.drop_role(postgres_url, role)


def migrate(owner_url: URL) -> None:
    engine = build_engine(settings_for(owner_url))
    upgrade_to_head(engine)
    engine.dispose()


def grant(owner_url: URL, role: str) -> None:
    engine = build_engine(settings_for(owner_url))
    with engine.begin() as connection:
        grant_application_role(connection, role)
    engine.dispose()


@pytest.fixture
def fresh_postgres(postgres_server: PostgresServer) -> Iterator[Callable[[], URL]]:
    """Make empty databases on demand; all are dropped after the test."""
    made: list[URL] = []

    def make() -> URL:
        made.append(postgres_server.create_database())
        return made[-1]

    yield make
    for url in made:
        postgres_server.drop_database(url)


def started_neon_like(**options: Any) -> NeonLikeServer:
    """A running Neon-like server, or a skip (a failure under CI=true) that says what is missing.

    A start that fails has already removed whatever it started.
    """
    server = NeonLikeServer(**options)
    try:
        server.start()
    except (OSError, RuntimeError, psycopg2.Error) as exc:
        unavailable(f"cannot start the Neon-like server (TLS PostgreSQL behind PgBouncer): {exc}")
    return server


def started_replicated_server(**options: Any) -> ReplicatedServer:
    """A migrated primary with a streaming standby (each behind PgBouncer), or a skip (a
    failure under CI=true) that says what is missing; a failed start removed what it began."""
    server = ReplicatedServer(**options)
    try:
        server.start()
        server.migrate()
    except (OSError, RuntimeError, psycopg2.Error) as exc:
        server.stop()
        unavailable(f"cannot start a primary and its standby (pg_basebackup, PgBouncer): {exc}")
    return server


@pytest.fixture(scope="module")
def cluster() -> Iterator[ReplicatedServer]:
    """A primary and its streaming standby for the tests of one module (read replicas)."""
    server = started_replicated_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def neon_like() -> Iterator[NeonLikeServer]:
    """Neon's shape on this machine: TLS-only PostgreSQL behind PgBouncer (transaction mode)."""
    server = started_neon_like()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def neon_like_app_url(neon_like: NeonLikeServer) -> URL:
    """The Neon-like database, migrated by its owner, reached through the pooler as the app."""
    migrate(neon_like.direct_url())
    grant(neon_like.direct_url(), APP_USER)
    return neon_like.app_pooler_url()


BACKENDS = ["sqlite", "postgresql", "pgbouncer"]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """sqlite: in memory. postgresql: the local server. pgbouncer: TLS through the pooler."""
    return str(request.param)


def backend_settings(backend: str, request: pytest.FixtureRequest, **overrides: object) -> Settings:
    """Settings that reach `backend`, with its schema created."""
    if backend == "sqlite":
        return settings_for("sqlite://", **overrides)
    if backend == "postgresql":
        return settings_for(request.getfixturevalue("postgres_app_url"), **overrides)
    url = request.getfixturevalue("neon_like_app_url")
    return settings_for(url, **overrides)


@pytest.fixture(scope="session")
def engine(backend: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The migrated engine of the backend under test, connected as the application role."""
    engine = build_engine(backend_settings(backend, request))
    if backend == "sqlite":  # PostgreSQL databases are migrated by their owners
        upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session like a request's (`new_session`: bound to the engine, objects kept at commit).

    Operations run on it exactly as in a service: each in its own transaction,
    on a pooled connection, ended before it returns. Afterwards every account
    is deleted (their todos with them), so each test starts from empty tables.
    SQLModel's own `Session(engine)` is tested in `test_sqlmodel_sessions.py`.
    """
    with Session(engine, expire_on_commit=False) as session:
        yield session
    empty_tables(engine)


def empty_tables(engine: Engine) -> None:
    """Delete every account; the database deletes their todos (ON DELETE CASCADE)."""
    with engine.begin() as connection:
        connection.execute(delete(User))


@pytest.fixture
async def async_engine(
    backend: str, engine: Engine, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncEngine]:
    """An asyncio engine on the same database as the blocking `engine` fixture."""
    del engine  # requested so the PostgreSQL schema exists
    async_engine = build_async_engine(backend_settings(backend, request))
    if backend == "sqlite":  # a new in-memory database: give it the schema
        async with async_engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
    yield async_engine
    await async_engine.dispose()


@pytest.fixture
async def async_session(async_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """An `AsyncSession` like a request's (`new_async_session`); the tables are emptied
    afterwards, as for the blocking `session` fixture."""
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        yield session
    async with async_engine.begin() as connection:
        await connection.execute(delete(User))


def add_user(session: Session, email: str) -> User:
    """A committed user with `KNOWN_PASSWORD`, made without hashing."""
    user = User.model_validate({"email": email, "hashed_password": KNOWN_PASSWORD_HASH})
    session.add(user)
    session.commit()
    return user


async def add_user_async(session: AsyncSession, email: str) -> int:
    """`add_user` on an `AsyncSession`: a committed user with `KNOWN_PASSWORD`; its id."""
    user = User.model_validate({"email": email, "hashed_password": KNOWN_PASSWORD_HASH})
    session.add(user)
    await session.flush()
    user_id = uid(user)  # read before the commit expires it (SQLModel's default)
    await session.commit()
    return user_id


@pytest.fixture
def ann(session: Session) -> User:
    return add_user(session, "ann@example.com")


@pytest.fixture
def bob(session: Session) -> User:
    return add_user(session, "bob@example.com")


def uid(user: User) -> int:
    """The id of a committed user."""
    assert user.id is not None
    return user.id


def tid(todo: Todo) -> int:
    """The id of a committed todo."""
    assert todo.id is not None
    return todo.id


def act_as(session: Session, user_id: int | None) -> None:
    """Name the user to PostgreSQL's row security, as the operations do."""
    assert user_id is not None
    name_user(session, user_id)


def table_snapshot(session: Session) -> list[tuple[object, ...]]:
    """Every user and todo row, to prove an operation changed nothing.

    Row security shows each user's todos only to that user, so they are read user by user.
    """
    user_table, todo_table = inspect(User).local_table, inspect(Todo).local_table
    users = session.execute(select(user_table).order_by(user_table.c.id)).all()
    rows = [tuple(row) for row in users]
    for user in users:
        act_as(session, user.id)
        todos = session.execute(
            select(todo_table).where(todo_table.c.user_id == user.id).order_by(todo_table.c.id)
        )
        rows += [tuple(row) for row in todos]
    return rows


settings.register_profile("dev", max_examples=60, stateful_step_count=25, deadline=None)
settings.register_profile(
    "ci",
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
