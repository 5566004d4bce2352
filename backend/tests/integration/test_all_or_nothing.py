"""Every operation is all or nothing, and a failed one leaves the session usable.

The database's refusal of a row that passed validation is played by a trigger
that refuses one marked title: on PostgreSQL it is created by the schema's
owner (the app role may not), raising a check violation on UPDATE and a plain
`RAISE EXCEPTION` (not an integrity error) on INSERT; on SQLite it is a
temporary trigger on the in-memory database's one connection. It stands for any failure the
database reports after part of a batch went in: a constraint added later, a
lost connection, a full disk.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from psycopg2 import sql
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import Session

from src import crud
from src.crud import aio
from src.database.connection import build_engine, new_session
from src.errors import DatabaseConnectionError, DuplicateEmailError, UserNotFoundError
from src.models import TodoCreate, TodoUpdate, User, UserCreate
from tests.conftest import (
    PostgresServer,
    add_user,
    add_user_async,
    grant,
    migrate,
    settings_for,
    tid,
    uid,
)

REFUSED = "refused by the database"
_PG_TRIGGER = (
    "CREATE FUNCTION refuse_marked_title() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"IF NEW.title = '{REFUSED}' THEN RAISE EXCEPTION 'refused' USING ERRCODE = "
    "CASE TG_OP WHEN 'UPDATE' THEN '23514' ELSE 'P0001' END; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER refuse_marked_title BEFORE INSERT OR UPDATE ON todo "
    "FOR EACH ROW EXECUTE FUNCTION refuse_marked_title()",
)
_PG_DROP = ("DROP TRIGGER refuse_marked_title ON todo", "DROP FUNCTION refuse_marked_title()")
_SQLITE_TRIGGER = tuple(
    f"CREATE TEMP TRIGGER refuse_marked_{event} BEFORE {event} ON todo "
    f"WHEN NEW.title = '{REFUSED}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
    for event in ("INSERT", "UPDATE")
)


def _owner_engine(backend: str, request: pytest.FixtureRequest) -> Engine:
    if backend == "postgresql":
        return build_engine(settings_for(request.getfixturevalue("postgres_url")))
    neon_like = request.getfixturevalue("neon_like")
    return build_engine(settings_for(neon_like.direct_url()))


@pytest.fixture
def database_refuses_marked_title(
    backend: str, engine: Engine, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Install the refusing trigger for one test, and remove it afterwards."""
    if backend == "sqlite":  # the in-memory database has one connection: temp triggers hold
        with engine.begin() as connection:
            for statement in _SQLITE_TRIGGER:
                connection.exec_driver_sql(statement)
        try:
            yield
        finally:
            with engine.begin() as connection:
                for event in ("INSERT", "UPDATE"):
                    connection.exec_driver_sql(f"DROP TRIGGER temp.refuse_marked_{event}")
        return
    owner = _owner_engine(backend, request)
    with owner.begin() as connection:
        for statement in _PG_TRIGGER:
            connection.exec_driver_sql(statement)
    try:
        yield
    finally:
        with owner.begin() as connection:
            for statement in _PG_DROP:
                connection.exec_driver_sql(statement)
        owner.dispose()


def items(count: int) -> list[TodoCreate]:
    return [TodoCreate(title=f"item {n}") for n in range(count)]


def test_bulk_create_with_an_unvalidated_item_at_1500_is_refused_before_any_sql(
    session: Session, ann: User
) -> None:
    batch = items(2000)
    batch[1499] = TodoCreate.model_construct(title="", description=None, completed=False)
    with pytest.raises(ValidationError) as caught:
        crud.create_todos(session, uid(ann), batch)
    assert caught.value.errors()[0]["loc"] == ("items", 1499, "title")
    assert crud.create_todos(session, uid(ann), items(1)) == 1
    assert crud.count_todos(session, uid(ann)).total == 1


def test_bulk_create_validates_again_an_item_changed_after_its_validation(
    session: Session, ann: User
) -> None:
    batch = items(3)
    batch[1].title = "   "  # assignment is not validated: the item no longer holds what it did
    batch[2].completed = 1  # type: ignore[assignment]  # equal to True, but not a bool
    with pytest.raises(ValidationError) as caught:
        crud.create_todos(session, uid(ann), batch)
    assert [e["loc"] for e in caught.value.errors()] == [
        ("items", 1, "title"),
        ("items", 2, "completed"),
    ]
    assert crud.count_todos(session, uid(ann)).total == 0


@pytest.mark.usefixtures("database_refuses_marked_title")
def test_bulk_create_refused_at_item_1500_writes_nothing_and_the_next_call_commits_only_its_own(
    session: Session, ann: User
) -> None:
    batch = items(2000)
    batch[1499] = TodoCreate(title=REFUSED)
    with pytest.raises(DBAPIError):
        crud.create_todos(session, uid(ann), batch)
    assert crud.create_todos(session, uid(ann), items(2)) == 2
    assert crud.count_todos(session, uid(ann)).total == 2


@pytest.mark.usefixtures("database_refuses_marked_title")
def test_update_refused_by_the_database_rolls_back_and_the_held_todo_stays_readable(
    session: Session, ann: User
) -> None:
    todo = crud.create_todo(session, uid(ann), TodoCreate(title="kept"))
    with pytest.raises(DBAPIError):
        crud.update_todo(session, uid(ann), tid(todo), TodoUpdate(title=REFUSED))
    assert todo.title == "kept"  # reloaded within row security, not ObjectDeletedError
    assert crud.set_completed(session, uid(ann), tid(todo), True).completed is True
    assert crud.get_todo(session, uid(ann), tid(todo)).title == "kept"


def test_a_todo_held_across_a_failed_operation_stays_readable(session: Session, ann: User) -> None:
    todo = crud.create_todo(session, uid(ann), TodoCreate(title="held"))
    with pytest.raises(UserNotFoundError):
        crud.create_todo(session, 2**62, TodoCreate(title="nobody's"))
    with pytest.raises(DuplicateEmailError):
        crud.create_user(session, UserCreate(email=ann.email, password=SecretStr("long enough")))
    assert (todo.title, ann.email) == ("held", "ann@example.com")
    assert crud.list_todos(session, uid(ann)).items == [todo]


async def test_async_a_held_todo_survives_failed_operations_without_missing_greenlet(
    async_session: AsyncSession,
) -> None:
    ann = await add_user_async(async_session, "ann@example.com")
    todo = await aio.create_todo(async_session, ann, TodoCreate(title="held"))
    with pytest.raises(UserNotFoundError):
        await aio.create_todo(async_session, 2**62, TodoCreate(title="nobody's"))
    with pytest.raises(DuplicateEmailError):
        await aio.create_user(
            async_session, UserCreate(email="ann@example.com", password=SecretStr("long enough"))
        )
    assert todo.title == "held"
    batch = items(2000)
    batch[1499] = TodoCreate.model_construct(title=" ", description=None, completed=False)
    with pytest.raises(ValidationError):
        await aio.create_todos(async_session, ann, batch)
    assert (await aio.count_todos(async_session, ann)).total == 1


@pytest.mark.usefixtures("database_refuses_marked_title")
async def test_async_refused_bulk_create_and_update_roll_back(
    async_session: AsyncSession, async_engine: AsyncEngine
) -> None:
    if async_engine.dialect.name == "sqlite":  # its own in-memory database: its own triggers
        async with async_engine.begin() as connection:
            for statement in _SQLITE_TRIGGER:
                await connection.exec_driver_sql(statement)
    ann = await add_user_async(async_session, "ann@example.com")
    todo = await aio.create_todo(async_session, ann, TodoCreate(title="kept"))
    batch = items(2000)
    batch[1499] = TodoCreate(title=REFUSED)
    with pytest.raises(DBAPIError):
        await aio.create_todos(async_session, ann, batch)
    with pytest.raises(DBAPIError):
        await aio.update_todo(async_session, ann, tid(todo), TodoUpdate(title=REFUSED))
    assert todo.title == "kept"
    assert (await aio.count_todos(async_session, ann)).total == 1


def test_todo_creates_with_the_same_fields_are_equal_however_they_were_made() -> None:
    """The record of validation that lets `create_todos` skip a second pass is not a field."""
    validated = TodoCreate(title="same", description=None, completed=False)
    constructed = TodoCreate.model_construct(title="same", description=None, completed=False)
    assert validated == constructed
    assert validated != TodoCreate(title="other")


def test_a_constructed_item_missing_fields_is_a_validation_error(
    session: Session, ann: User
) -> None:
    with pytest.raises(ValidationError) as caught:
        crud.create_todos(session, uid(ann), [TodoCreate(title="ok"), TodoCreate.model_construct()])
    assert caught.value.errors()[0]["loc"][:2] == ("items", 1)


async def test_the_async_operations_refuse_anything_but_an_async_session(session: Session) -> None:
    for wrong in (None, session, "session"):
        with pytest.raises(ValidationError) as caught:
            await aio.get_todo(wrong, 1, 1)  # type: ignore[arg-type]  # the wrong type under test
        assert caught.value.errors()[0]["loc"] == ("session",)


def test_with_the_database_away_the_operations_own_error_propagates_and_held_todos_return(
    postgres_server: PostgresServer, fresh_postgres: Callable[[], URL]
) -> None:
    """The reload after a rollback cannot reach the database: the caller sees the operation's
    own error, and the next operation, once the database answers, reloads what was held."""
    url = fresh_postgres()
    migrate(url)
    role = f"todo_away_{uuid.uuid4().hex[:8]}"
    quoted = sql.Identifier(role)
    postgres_server.execute(sql.SQL("CREATE ROLE {} LOGIN").format(quoted))
    grant(url, role)
    engine = build_engine(
        settings_for(
            url.set(username=role), DB_CONNECT_RETRY_BUDGET_S=0, DB_POOL_PING_AFTER_IDLE_S=300
        )
    )
    try:
        with new_session(engine) as session:
            ann, bob = add_user(session, "ann@example.com"), add_user(session, "bob@example.com")
            held = crud.create_todo(session, uid(ann), TodoCreate(title="held"))
            held_id = held.id
            assert held_id is not None
            postgres_server.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 0").format(quoted))
            postgres_server.execute(
                sql.SQL(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {}"
                ).format(sql.Literal(role))
            )
            # Lost mid-use, or (if the close reached the idle socket first) seen at checkout
            # and refused on reconnecting: either way the operation's own typed error.
            with pytest.raises(
                DatabaseConnectionError, match=r"lost the connection|cannot reach the database"
            ):
                crud.update_todo(session, uid(ann), held_id, TodoUpdate(title="changed"))
            postgres_server.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT -1").format(quoted))
            assert crud.count_todos(session, uid(bob)).total == 0  # another user's operation
            assert held.title == "held"  # reloaded under its owner, not hidden by row security
    finally:
        postgres_server.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT -1").format(quoted))
        engine.dispose()
        postgres_server.drop_role(url, role)
