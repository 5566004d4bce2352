"""What Neon does to connections, reproduced on a TLS-only cluster behind PgBouncer.

A compute that is waking up refuses connections; a suspend or restart drops
them. These tests run on a cluster of their own, since they stop and restart it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.exc import ProgrammingError
from sqlmodel import SQLModel

from src import crud
from src.database.connection import build_engine, check_connection, new_session
from src.errors import DatabaseConnectionError, PoolExhaustedError
from src.models import Todo, TodoCreate, TodoUpdate, UserCreate
from tests.conftest import act_as, add_user, settings_for, started_neon_like
from tests.neon_local import PASSWORD, NeonLikeServer


@pytest.fixture(scope="module")
def server() -> Iterator[NeonLikeServer]:
    server = started_neon_like()
    try:
        engine = build_engine(settings_for(server.direct_url()))
        SQLModel.metadata.create_all(engine)
        engine.dispose()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["direct", "pooler"])
def engine(request: pytest.FixtureRequest, server: NeonLikeServer) -> Iterator[Engine]:
    url = server.direct_url() if request.param == "direct" else server.pooler_url()
    engine = build_engine(
        settings_for(url, DB_TRANSACTION_POOLER=request.param == "pooler", DB_CONNECT_TIMEOUT_S=2)
    )
    yield engine
    engine.dispose()
    with new_session(build_engine(settings_for(server.direct_url()))) as session:
        session.execute(text('DELETE FROM "user"'))
        session.commit()


@pytest.fixture
def owner(engine: Engine) -> int:
    with new_session(engine) as session:
        user = add_user(session, "owner@example.com")
        assert user.id is not None
        return user.id


def todo_count(engine: Engine, owner: int) -> int:
    with new_session(engine) as session:
        act_as(session, owner)
        return session.scalar(select(func.count()).select_from(Todo)) or 0


def test_tls_is_required_and_used(server: NeonLikeServer, engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(
            text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        ).scalar()
    plaintext = build_engine(
        settings_for(
            server.direct_url().update_query_dict({"sslmode": "disable"}),
            DB_CONNECT_RETRY_BUDGET_S=5,
        )
    )
    started = time.monotonic()
    with pytest.raises(DatabaseConnectionError, match=r"no encryption.*\(not retried\)"):
        check_connection(plaintext)
    assert time.monotonic() - started < 2


def test_connect_retries_until_a_late_server_is_up(server: NeonLikeServer) -> None:
    engine = build_engine(settings_for(server.direct_url(), DB_CONNECT_RETRY_BUDGET_S=20))
    server.stop_postgres()
    starter = threading.Timer(1.5, server.start_postgres)
    starter.start()
    started = time.monotonic()
    try:
        report = check_connection(engine)
    finally:
        starter.join()
        engine.dispose()
    assert report.backend == "postgresql"
    assert time.monotonic() - started >= 1.4


def test_connect_gives_up_when_the_budget_is_spent(
    server: NeonLikeServer, caplog: pytest.LogCaptureFixture
) -> None:
    engine = build_engine(settings_for(server.direct_url(), DB_CONNECT_RETRY_BUDGET_S=1.5))
    server.stop_postgres()
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(DatabaseConnectionError) as caught:
            check_connection(engine)
    finally:
        server.start_postgres()
    elapsed = time.monotonic() - started
    assert 0.5 < elapsed < 1.5 + 2  # never sleeps past the budget
    assert "attempt(s)" in str(caught.value)
    assert "refused" in str(caught.value).lower()
    assert len([r for r in caplog.records if "retrying in" in r.getMessage()]) >= 3
    assert PASSWORD not in str(caught.value) + caplog.text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"password": "wrong-password"}, "password authentication failed"),
        ({"database": "no_such_database"}, "does not exist"),
    ],
)
def test_login_and_missing_database_errors_are_not_retried(
    server: NeonLikeServer, change: dict[str, str], expected: str
) -> None:
    engine = build_engine(
        settings_for(server.direct_url().set(**change), DB_CONNECT_RETRY_BUDGET_S=20)
    )
    started = time.monotonic()
    with pytest.raises(DatabaseConnectionError, match=rf"{expected}.*\(not retried\)") as caught:
        check_connection(engine)
    assert time.monotonic() - started < 2
    assert "wrong-password" not in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_bad_sql_fails_at_once(engine: Engine) -> None:
    started = time.monotonic()
    with engine.connect() as connection, pytest.raises(ProgrammingError):
        connection.execute(text("SELECT * FROM no_such_table"))
    assert time.monotonic() - started < 1


def test_dropped_connections_are_replaced_without_the_caller_noticing(
    server: NeonLikeServer, engine: Engine, owner: int
) -> None:
    with new_session(engine) as session:
        crud.create_todo(session, owner, TodoCreate(title="before"))
    assert server.terminate_backends() >= 1
    with new_session(engine) as session:
        crud.create_todo(session, owner, TodoCreate(title="after"))
        assert crud.count_todos(session, owner).total == 2


def test_a_transaction_cut_off_mid_way_fails_clearly_and_writes_nothing(
    server: NeonLikeServer, engine: Engine, owner: int
) -> None:
    with new_session(engine) as session:
        act_as(session, owner)
        session.add_all([Todo(user_id=owner, title=f"half {i}") for i in range(3)])
        session.flush()
        server.terminate_backends()
        with pytest.raises(DatabaseConnectionError, match="lost the connection") as caught:
            session.commit()
        assert PASSWORD not in str(caught.value)
    assert todo_count(engine, owner) == 0


def test_operations_across_a_restart_lose_nothing_committed(
    server: NeonLikeServer, engine: Engine, owner: int, record_property: pytest.RecordProperty
) -> None:
    operations, failed, committed = 200, 0, []
    restarter = threading.Timer(0.3, server.restart_postgres)
    restarter.start()
    try:
        for i in range(operations):
            try:
                with new_session(engine) as session:
                    committed.append(
                        crud.create_todo(session, owner, TodoCreate(title=f"op {i}")).id
                    )
            except DatabaseConnectionError:
                failed += 1
            time.sleep(0.005)
    finally:
        restarter.join()
    with new_session(engine) as session:
        act_as(session, owner)
        stored = set(session.scalars(select(Todo.id)))
    record_property(
        "restart", {"operations": operations, "failed": failed, "committed": len(committed)}
    )
    print(
        f"\nacross a restart: {operations} operations, {failed} failed, {len(committed)} committed"
    )
    assert set(committed) <= stored
    assert failed + len(committed) == operations
    assert failed <= 3


def test_a_busy_pool_raises_a_typed_error_instead_of_hanging(server: NeonLikeServer) -> None:
    engine = build_engine(
        settings_for(server.direct_url(), DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT_S=0.5)
    )
    try:
        with engine.connect():
            started = time.monotonic()
            with pytest.raises(PoolExhaustedError, match="DB_POOL_TIMEOUT_S"):
                engine.connect()
            assert time.monotonic() - started < 2
    finally:
        engine.dispose()


def test_no_secret_reaches_logs_or_errors_even_with_echo_and_debug(
    server: NeonLikeServer, caplog: pytest.LogCaptureFixture
) -> None:
    plain_password = "plain-password-9d2c"
    engine = build_engine(
        settings_for(server.pooler_url(), DB_ECHO=True, DB_TRANSACTION_POOLER=True)
    )
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        with new_session(engine) as session:
            user = crud.create_user(
                session, UserCreate(email="s@example.com", password=SecretStr(plain_password))
            )
            texts.append(repr(user))
            assert (
                crud.authenticate(session, "s@example.com", SecretStr(plain_password)) is not None
            )
            assert crud.get_user(session, user.id) is not None  # type: ignore[arg-type]
            session.execute(text('SELECT * FROM "user"')).all()
            with pytest.raises(Exception) as duplicate:  # noqa: PT011  any error, its text is checked
                session.execute(
                    text('INSERT INTO "user" (email, hashed_password) VALUES (:e, :h)'),
                    {"e": "s@example.com", "h": user.hashed_password},
                )
            texts.append(str(duplicate.value))
        bad = build_engine(
            settings_for(server.direct_url().set(password="x" + PASSWORD), DB_ECHO=True)
        )
        with pytest.raises(DatabaseConnectionError) as refused:
            check_connection(bad)
        texts.append(str(refused.value))
    engine.dispose()
    everything = caplog.text + "\n".join(texts)
    assert "INSERT INTO" in caplog.text  # echo was on
    for secret in (plain_password, user.hashed_password, PASSWORD):
        assert secret not in everything


def test_operations_use_no_session_state_a_transaction_pooler_would_lose(
    engine: Engine, owner: int
) -> None:
    """Session SET, PREPARE, LISTEN and advisory locks do not survive a transaction-mode pooler."""
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with new_session(engine) as session:
        todo = crud.create_todo(session, owner, TodoCreate(title="t"))
        assert todo.id is not None
        crud.create_todos(session, owner, [TodoCreate(title="a"), TodoCreate(title="b")])
        crud.update_todo(session, owner, todo.id, TodoUpdate(title="u"))
        crud.toggle_completed(session, owner, todo.id)
        crud.list_todos(session, owner, limit=1)
        crud.count_todos(session, owner)
        crud.delete_todo(session, owner, todo.id)
        crud.authenticate(session, "owner@example.com", SecretStr("wrong password"))
    session_state = re.compile(r"^\s*(SET\s+(?!LOCAL)|PREPARE|LISTEN|.*pg_advisory_lock\()", re.I)
    assert statements
    assert [s for s in statements if session_state.match(s)] == []
