"""What Neon does to connections, on the blocking path, through a stand-in of Neon's proxy.

A compute that is waking up makes Neon's proxy answer `Couldn't connect to
compute node`; a connection storm makes it refuse permits; a suspend or
restart drops connections. Every test connects as an application would: by
endpoint host name through the proxy (`tests/standins/neon_proxy.py`), which routes
`-pooler` endpoints to PgBouncer in transaction mode and the others straight to
PostgreSQL. `test_resilience_async.py` holds the asyncio twins.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ProgrammingError
from sqlmodel import col

from src import crud
from src.database.connection import build_engine, check_connection, new_session
from src.errors import DatabaseConnectionError, PoolExhaustedError
from src.models import Todo, TodoCreate, TodoUpdate, UserCreate
from tests.conftest import act_as, add_user, settings_for
from tests.standins.neon_local import PASSWORD, NeonLikeServer
from tests.standins.neon_proxy import COULD_NOT_CONNECT, NO_PERMIT, NeonProxy


@pytest.fixture
def engine(server: NeonLikeServer, endpoint_url: URL) -> Iterator[Engine]:
    engine = build_engine(settings_for(endpoint_url, DB_CONNECT_TIMEOUT_S=2))
    yield engine
    engine.dispose()
    cleaner = build_engine(settings_for(server.direct_url()))
    with new_session(cleaner) as session:
        session.execute(text('DELETE FROM "user"'))
        session.commit()
    cleaner.dispose()


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


def test_tls_is_required_and_used(endpoint_url: URL, engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(
            text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        ).scalar()
    plaintext = build_engine(
        settings_for(endpoint_url.update_query_dict({"sslmode": "disable"}), **BUDGET_5_S)
    )
    started = time.monotonic()
    with pytest.raises(DatabaseConnectionError, match=r"insecure.*\(not retried\)"):
        check_connection(plaintext)
    assert time.monotonic() - started < 2


BUDGET_5_S = {"DB_CONNECT_RETRY_BUDGET_S": 5}


@pytest.mark.parametrize("refusal", ["suspended", "no permit"])
def test_neons_not_now_answers_are_retried_until_the_compute_answers(
    proxy: NeonProxy, endpoint_url: URL, refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = build_engine(settings_for(endpoint_url, DB_CONNECT_RETRY_BUDGET_S=10))
    if refusal == "suspended":
        proxy.suspend(wake_after_s=1.0)
    else:
        proxy.refuse_permits(3)
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING):
            assert check_connection(engine).backend == "postgresql"
    finally:
        engine.dispose()
    expected = COULD_NOT_CONNECT if refusal == "suspended" else NO_PERMIT
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries
    assert all(expected in message for message in retries)
    if refusal == "suspended":
        assert time.monotonic() - started >= 1.0
    assert PASSWORD not in caplog.text


def test_a_compute_that_never_wakes_fails_within_the_budget(
    proxy: NeonProxy, endpoint_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    engine = build_engine(settings_for(endpoint_url, DB_CONNECT_RETRY_BUDGET_S=1.5))
    proxy.suspend(wake_after_s=600)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(DatabaseConnectionError) as caught:
        check_connection(engine)
    elapsed = time.monotonic() - started
    assert 0.5 < elapsed < 1.5 + 2  # never sleeps past the budget
    assert re.search(r"after \d+ attempt\(s\).*Couldn't connect to compute node", str(caught.value))
    assert len([r for r in caplog.records if "retrying in" in r.getMessage()]) >= 3
    assert PASSWORD not in str(caught.value) + caplog.text


def test_connect_retries_until_a_restarted_compute_is_up(
    server: NeonLikeServer, proxy: NeonProxy
) -> None:
    engine = build_engine(
        settings_for(proxy.url(server.direct_url()), DB_CONNECT_RETRY_BUDGET_S=20)
    )
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


def test_a_full_connection_limit_is_waited_out(server: NeonLikeServer, proxy: NeonProxy) -> None:
    """PostgreSQL's own "not now": SQLSTATE 53300 (here a role's CONNECTION LIMIT)."""
    url = proxy.url(server.direct_url())
    user = url.username
    engine = build_engine(settings_for(url, DB_CONNECT_RETRY_BUDGET_S=10))
    limit = threading.Timer(1.0, server.admin_sql, [f"ALTER ROLE {user} CONNECTION LIMIT -1"])
    server.admin_sql(f"ALTER ROLE {user} CONNECTION LIMIT 0")
    limit.start()
    started = time.monotonic()
    try:
        assert check_connection(engine).backend == "postgresql"
    finally:
        limit.join()
        server.admin_sql(f"ALTER ROLE {user} CONNECTION LIMIT -1")
        engine.dispose()
    assert time.monotonic() - started >= 0.9


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"password": "wrong-password"}, "(password|SASL) authentication failed"),  # PG | PgBouncer
        ({"database": "no_such_database"}, "does not exist"),
    ],
)
def test_login_and_missing_database_errors_are_not_retried(
    endpoint_url: URL, change: dict[str, Any], expected: str
) -> None:
    engine = build_engine(settings_for(endpoint_url.set(**change), DB_CONNECT_RETRY_BUDGET_S=20))
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
    time.sleep(0.2)  # the server's close reaches the idle socket
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
    server: NeonLikeServer,
    engine: Engine,
    owner: int,
    record_property: Callable[[str, object], None],
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
        stored = set(session.scalars(select(col(Todo.id))))
    record_property(
        "restart", {"operations": operations, "failed": failed, "committed": len(committed)}
    )
    print(
        f"\nacross a restart: {operations} operations, {failed} failed, {len(committed)} committed"
    )
    assert set(committed) <= stored
    assert failed + len(committed) == operations
    assert failed <= 3


def test_a_busy_pool_raises_a_typed_error_instead_of_hanging(endpoint_url: URL) -> None:
    engine = build_engine(
        settings_for(endpoint_url, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT_S=0.5)
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
    server: NeonLikeServer, proxy: NeonProxy, caplog: pytest.LogCaptureFixture
) -> None:
    plain_password = "plain-password-9d2c"
    engine = build_engine(settings_for(proxy.url(server.direct_url(), pooler=True), DB_ECHO=True))
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
            settings_for(proxy.url(server.direct_url()).set(password="x" + PASSWORD), DB_ECHO=True)
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
