"""Checks that need Neon itself. Opt-in: set NEON_DATABASE_URL to a Neon branch's URL.

Everything Neon does to connections is also reproduced locally by the rest of
the suite; these tests confirm it against the real service.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

from src import crud
from src.database.connection import build_engine, check_connection
from src.models import TodoCreate
from tests.conftest import add_user, settings_for

NEON_URL = os.environ.get("NEON_DATABASE_URL")

pytestmark = pytest.mark.skipif(
    not NEON_URL,
    reason="needs a Neon database: set NEON_DATABASE_URL (see quickstart.md, section Neon)",
)


@pytest.fixture(scope="module")
def neon_engine() -> Iterator[Engine]:
    assert NEON_URL is not None
    engine = build_engine(settings_for(NEON_URL))
    yield engine
    engine.dispose()


def test_url_is_a_neon_host_with_tls_required(neon_engine: Engine) -> None:
    assert str(neon_engine.url.host).endswith(".neon.tech")
    assert neon_engine.url.query["sslmode"] in {"require", "verify-ca", "verify-full"}


def test_connection_is_encrypted(neon_engine: Engine) -> None:
    report = check_connection(neon_engine)
    with neon_engine.connect() as connection:
        ssl = connection.execute(
            text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        ).scalar_one()
    assert ssl is True
    assert report.backend == "postgresql"


def test_operations_round_trip_and_leave_nothing_behind(neon_engine: Engine) -> None:
    with neon_engine.connect() as connection:
        transaction = connection.begin()
        SQLModel.metadata.create_all(connection)
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            user = add_user(session, "neon-check@example.com")
            assert user.id is not None
            todo = crud.create_todo(session, user.id, TodoCreate(title="on Neon"))
            assert todo.id is not None
            assert crud.toggle_completed(session, user.id, todo.id).completed is True
            assert crud.count_todos(session, user.id).completed == 1
        transaction.rollback()
