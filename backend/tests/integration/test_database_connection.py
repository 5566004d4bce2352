"""The engine factory, the session helpers and the connection report, on both backends."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlmodel import Session, col

from src.config import settings as settings_module
from src.database import connection as connection_module
from src.database.connection import (
    build_engine,
    check_connection,
    create_db_and_tables,
    dispose_engine,
    get_engine,
    get_session,
    session_scope,
)
from src.errors import DatabaseConnectionError
from src.models import User
from tests.conftest import KNOWN_PASSWORD_HASH, settings_for

SECRET = "do-not-print-me"


def test_check_connection_reports_backend_version_and_latency(engine: Engine) -> None:
    report = check_connection(engine)
    assert report.backend == engine.dialect.name
    assert report.server_version[0].isdigit()
    assert 0 < report.latency_ms < 1000
    assert report.backend in str(report)


def test_refused_port_gives_a_typed_error_with_masked_url() -> None:
    engine = build_engine(
        settings_for(f"postgresql://app:{SECRET}@127.0.0.1:1/app", DB_CONNECT_RETRY_BUDGET_S=0)
    )
    with pytest.raises(DatabaseConnectionError) as caught:
        check_connection(engine)
    message = str(caught.value)
    assert "postgresql+psycopg2://app:***@127.0.0.1:1/app" in message
    assert "refused" in message.lower()
    assert SECRET not in message
    assert SECRET not in repr(caught.value)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections but never speaks: a server that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_unanswering_server_fails_within_the_connect_timeout(silent_port: int) -> None:
    engine = build_engine(
        settings_for(
            f"postgresql://app:{SECRET}@127.0.0.1:{silent_port}/app",
            DB_CONNECT_TIMEOUT_S=2,
            DB_CONNECT_RETRY_BUDGET_S=0,
        )
    )
    started = time.monotonic()
    with pytest.raises(DatabaseConnectionError, match="timeout") as caught:
        check_connection(engine)
    assert time.monotonic() - started < 2 + 1.5
    assert SECRET not in str(caught.value)


def test_postgres_engine_is_tuned_for_neon(postgres_url: object) -> None:
    engine = build_engine(settings_for(str(postgres_url)))
    assert not engine.pool._pre_ping  # replaced by the idle check (test_liveness.py)
    assert 0 < engine.pool._recycle < 300
    with engine.connect() as connection:
        name = connection.execute(text("SELECT current_setting('application_name')")).scalar()
        keepalives = connection.connection.dbapi_connection.get_dsn_parameters()  # type: ignore[union-attr]
    engine.dispose()
    assert name == "todo-data-layer"
    assert keepalives["keepalives"] == "1"
    assert keepalives["connect_timeout"] == "10"


def test_sqlite_enforces_foreign_keys_on_every_connection(tmp_path: Path) -> None:
    engine = build_engine(settings_for(f"sqlite:///{tmp_path / 'app.db'}"))
    connections = [engine.connect() for _ in range(3)]
    try:
        for connection in connections:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        for connection in connections:
            connection.close()
        engine.dispose()


def test_sqlite_memory_database_survives_across_sessions() -> None:
    engine = build_engine(settings_for("sqlite://"))
    create_db_and_tables(engine)
    with session_scope(engine) as session:
        session.add(
            User.model_validate({"email": "a@b.io", "hashed_password": KNOWN_PASSWORD_HASH})
        )
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
    engine.dispose()


@pytest.fixture
def process_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Point the process-wide engine at a fresh SQLite file for one test."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'process.db'}")
    settings_module.get_settings.cache_clear()
    dispose_engine()
    yield
    dispose_engine()
    settings_module.get_settings.cache_clear()


@pytest.mark.usefixtures("process_engine")
def test_engine_is_created_once_and_can_be_disposed() -> None:
    assert connection_module._engine is None
    first = get_engine()
    assert get_engine() is first
    dispose_engine()
    assert connection_module._engine is None
    assert get_engine() is not first


@pytest.mark.usefixtures("process_engine")
def test_get_session_closes_and_discards_what_was_not_committed() -> None:
    create_db_and_tables()
    dependency = get_session()
    session = next(dependency)
    session.add(User.model_validate({"email": "x@y.io", "hashed_password": KNOWN_PASSWORD_HASH}))
    session.flush()
    dependency.close()  # FastAPI closes the generator after the response
    assert not session.in_transaction()
    with Session(get_engine()) as fresh:
        assert fresh.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.usefixtures("process_engine")
def test_session_scope_commits_on_success_and_rolls_back_on_error() -> None:
    create_db_and_tables()
    with session_scope() as session:
        session.add(
            User.model_validate({"email": "ok@y.io", "hashed_password": KNOWN_PASSWORD_HASH})
        )

    def fail_after_writing() -> None:
        with session_scope() as session:
            session.add(
                User.model_validate({"email": "no@y.io", "hashed_password": KNOWN_PASSWORD_HASH})
            )
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_after_writing()
    with Session(get_engine()) as fresh:
        assert list(fresh.scalars(select(col(User.email)))) == ["ok@y.io"]
