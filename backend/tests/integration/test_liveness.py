"""Pooled connections are pinged only after sitting idle (HikariCP's bypass window).

Runs on the Neon-like stand-in (TLS PostgreSQL, and PgBouncer in transaction
mode in front, Neon's `-pooler` shape), as the least-privilege application
role. `terminate_backends` does what a compute suspend does to open
connections: the server ends them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from src import crud
from src.database.connection import build_engine, new_session
from src.database.liveness import HIKARI_BYPASS_WINDOW_S
from src.errors import DatabaseConnectionError
from src.models import TodoCreate
from tests.conftest import add_user, settings_for
from tests.neon_local import APP_USER, NeonLikeServer


@pytest.fixture(params=["direct", "pooler"])
def endpoint(
    request: pytest.FixtureRequest, neon_like: NeonLikeServer, neon_like_app_url: object
) -> str:
    del neon_like_app_url  # requested for the migrated schema and the role's grants
    return str(request.param)


def _engine(neon_like: NeonLikeServer, endpoint: str, **overrides: object) -> Engine:
    url = (
        neon_like.direct_url().set(username=APP_USER)
        if endpoint == "direct"
        else neon_like.app_pooler_url()
    )
    return build_engine(settings_for(url, DB_TRANSACTION_POOLER=endpoint == "pooler", **overrides))


@pytest.fixture
def pinged(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Each liveness ping the engines send, by time."""
    from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2

    sent: list[float] = []
    real: Callable[[PGDialect_psycopg2, Any], bool] = PGDialect_psycopg2.do_ping

    def counting(self: PGDialect_psycopg2, dbapi_connection: Any) -> bool:
        sent.append(time.monotonic())
        return real(self, dbapi_connection)

    monkeypatch.setattr(PGDialect_psycopg2, "do_ping", counting)
    return sent


@pytest.fixture
def owner_engine(neon_like: NeonLikeServer, endpoint: str) -> Iterator[tuple[Engine, int]]:
    engine = _engine(neon_like, endpoint)
    with new_session(engine) as session:
        user = add_user(session, f"live-{endpoint}-{time.monotonic_ns()}@example.com")
        assert user.id is not None
    yield engine, user.id
    with new_session(engine) as session:
        crud.delete_user(session, user.id)
    engine.dispose()


def test_a_connection_used_moments_ago_is_not_pinged(
    owner_engine: tuple[Engine, int], pinged: list[float]
) -> None:
    engine, owner = owner_engine
    for i in range(20):
        with new_session(engine) as session:
            crud.create_todo(session, owner, TodoCreate(title=f"busy {i}"))
    assert pinged == []


def test_an_idle_connection_is_pinged_and_a_dropped_one_replaced_unseen(
    neon_like: NeonLikeServer, owner_engine: tuple[Engine, int], pinged: list[float]
) -> None:
    engine, owner = owner_engine
    with new_session(engine) as session:
        crud.create_todo(session, owner, TodoCreate(title="before the suspend"))
    neon_like.terminate_backends()
    time.sleep(HIKARI_BYPASS_WINDOW_S + 0.2)
    with new_session(engine) as session:
        crud.create_todo(session, owner, TodoCreate(title="after the wake-up"))
        assert crud.count_todos(session, owner).total == 2
    assert len(pinged) == 1


def test_a_connection_dropped_inside_the_window_is_a_typed_error_and_the_pool_recovers(
    neon_like: NeonLikeServer, owner_engine: tuple[Engine, int], endpoint: str
) -> None:
    engine, owner = owner_engine
    with new_session(engine) as session:
        crud.create_todo(session, owner, TodoCreate(title="before"))
    neon_like.terminate_backends()
    failures = 0
    with new_session(engine) as session:
        try:
            crud.create_todo(session, owner, TodoCreate(title="unlucky"))
        except DatabaseConnectionError:
            failures = 1
    # Direct, the client's own connection died: one typed error. Through the pooler only
    # PgBouncer's server connection died; it reconnects by itself and the client sees nothing.
    assert failures == (1 if endpoint == "direct" else 0)
    with new_session(engine) as session:
        crud.create_todo(session, owner, TodoCreate(title="after"))
        assert crud.count_todos(session, owner).total == 3 - failures


def test_a_zero_window_pings_at_every_checkout(
    neon_like: NeonLikeServer, endpoint: str, pinged: list[float]
) -> None:
    engine = _engine(neon_like, endpoint, DB_POOL_PING_AFTER_IDLE_S=0)
    try:
        for _ in range(5):
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()
    assert len(pinged) == 4  # the first checkout is a fresh connection
