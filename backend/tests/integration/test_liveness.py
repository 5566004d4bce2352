"""A pooled connection costs no round trip at checkout, and one the server closed is replaced.

Runs on the Neon-like stand-in (TLS PostgreSQL, and PgBouncer in transaction
mode in front, Neon's `-pooler` shape), as the least-privilege application
role. `terminate_backends` does to open connections what a compute suspend
does (the server ends them with a FATAL message and closes); `restart_pooler`
does what a pooler restart does to its clients. The round-trip proxy stands
for the network between the service and Neon, and counts exchanges.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from src import crud
from src.database.connection import build_engine, new_session
from src.models import TodoCreate
from tests.conftest import add_user, settings_for
from tests.standins.neon_local import APP_USER, NeonLikeServer
from tests.standins.round_trip_proxy import RoundTripProxy

ORDINARY_GAP_S = 1.2  # one request a second per process: longer than any ping timer's window
CLOSE_ARRIVES_S = 0.3  # a terminated backend's close reaching the idle socket


@pytest.fixture(params=["direct", "pooler"])
def endpoint(
    request: pytest.FixtureRequest, neon_like: NeonLikeServer, neon_like_app_url: object
) -> str:
    del neon_like_app_url  # requested for the migrated schema and the role's grants
    return str(request.param)


def _engine(
    neon_like: NeonLikeServer, endpoint: str, port: int | None = None, **overrides: object
) -> Engine:
    url = (
        neon_like.direct_url().set(username=APP_USER)
        if endpoint == "direct"
        else neon_like.app_pooler_url()
    )
    if port is not None:
        url = url.set(port=port)
    return build_engine(settings_for(url, **overrides))


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
def network(neon_like: NeonLikeServer, endpoint: str) -> Iterator[RoundTripProxy]:
    """The network in front of the endpoint under test, counting round trips."""
    port = neon_like.port if endpoint == "direct" else neon_like.pooler_port
    with RoundTripProxy("127.0.0.1", port) as proxy:
        yield proxy


@pytest.fixture
def owner_engine(
    neon_like: NeonLikeServer, endpoint: str, network: RoundTripProxy
) -> Iterator[tuple[Engine, int]]:
    engine = _engine(neon_like, endpoint, network.port)
    with new_session(engine) as session:
        user = add_user(session, f"live-{endpoint}-{time.monotonic_ns()}@example.com")
        assert user.id is not None
    yield engine, user.id
    with new_session(engine) as session:
        crud.delete_user(session, user.id)
    engine.dispose()


def test_at_ordinary_traffic_a_request_costs_one_round_trip_and_no_ping(
    owner_engine: tuple[Engine, int], network: RoundTripProxy, pinged: list[float]
) -> None:
    engine, owner = owner_engine
    exchanges = []
    for i in range(3):
        time.sleep(ORDINARY_GAP_S)
        with network.counting() as counted, new_session(engine) as session:
            crud.create_todo(session, owner, TodoCreate(title=f"request {i}"))
        exchanges += counted
    assert exchanges == [1, 1, 1]
    assert pinged == []


def test_a_busy_connection_is_not_pinged(
    owner_engine: tuple[Engine, int], pinged: list[float]
) -> None:
    engine, owner = owner_engine
    for i in range(20):
        with new_session(engine) as session:
            crud.create_todo(session, owner, TodoCreate(title=f"busy {i}"))
    assert pinged == []


def test_a_connection_the_server_closed_is_replaced_before_a_request_sees_it(
    neon_like: NeonLikeServer,
    owner_engine: tuple[Engine, int],
    endpoint: str,
    pinged: list[float],
) -> None:
    engine, owner = owner_engine
    with new_session(engine) as session:
        crud.create_todo(session, owner, TodoCreate(title="before the suspend"))
    assert neon_like.terminate_backends() >= 1
    time.sleep(CLOSE_ARRIVES_S)
    with new_session(engine) as session:
        crud.create_todo(session, owner, TodoCreate(title="after the wake-up"))
        assert crud.count_todos(session, owner).total == 2
    # Direct, the client's own socket was closed: seen, pinged, replaced. Through the
    # pooler only PgBouncer's server connection died; the client's is untouched.
    assert len(pinged) == (1 if endpoint == "direct" else 0)


@pytest.mark.parametrize("endpoint", ["pooler"], indirect=True)
def test_a_pooler_restart_is_replaced_before_a_request_sees_it(
    neon_like: NeonLikeServer, owner_engine: tuple[Engine, int], pinged: list[float]
) -> None:
    engine, owner = owner_engine
    with new_session(engine) as session:
        crud.create_todo(session, owner, TodoCreate(title="before the restart"))
    neon_like.restart_pooler()
    time.sleep(CLOSE_ARRIVES_S)
    with new_session(engine) as session:
        crud.create_todo(session, owner, TodoCreate(title="after the restart"))
        assert crud.count_todos(session, owner).total == 2
    assert len(pinged) == 1


def test_a_connection_idle_past_the_window_is_pinged(
    neon_like: NeonLikeServer, endpoint: str, pinged: list[float]
) -> None:
    engine = _engine(neon_like, endpoint, DB_POOL_PING_AFTER_IDLE_S=0.2)
    try:
        for _ in range(2):
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            time.sleep(0.3)
    finally:
        engine.dispose()
    assert len(pinged) == 1  # the first checkout is a fresh connection


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
