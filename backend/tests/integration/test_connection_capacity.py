"""The pools are checked against what the server serves; a full pooler is a busy pool.

A real server with `max_connections = 40` (3 reserved for superusers: 37 for
the application) and a hot standby with the same, as a Neon read replica has
the primary's. The warning comes once per engine, at its first connection,
and names every number and the fix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

import psycopg2
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from src import crud
from src.crud import aio
from src.database import read_your_writes
from src.database.async_connection import build_async_engine, new_async_session
from src.database.capacity import PoolerExhaustedError
from src.database.connection import build_engine
from src.errors import DatabaseConnectionError, PoolExhaustedError
from tests.conftest import settings_for, started_replicated_server
from tests.standins.neon_local import APP_USER
from tests.standins.replica_local import ReplicatedServer

WAIT_TIMEOUT_S = 1  # the tight pooler's query_wait_timeout


@pytest.fixture(scope="module")
def cluster() -> Iterator[ReplicatedServer]:
    """The module's primary and standby, with a small `max_connections` to fill."""
    server = started_replicated_server(max_connections=40)
    yield server
    server.stop()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "src.database.capacity"]


def first_connections(engine: Engine, sessions: int = 3) -> None:
    """Connect, then run reads on several sessions (the check must not repeat)."""
    for _ in range(sessions):
        with Session(engine) as session:
            crud.get_user(session, 1)
    engine.dispose()


def test_pools_beyond_what_the_server_serves_are_named_once_with_the_fix(
    cluster: ReplicatedServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(
        cluster.primary.url(), DB_POOL_SIZE=15, DB_MAX_OVERFLOW=5, DB_EXPECTED_PROCESSES=2
    )
    with caplog.at_level(logging.WARNING, logger="src.database.capacity"):
        first_connections(build_engine(settings))
    assert warnings_of(caplog) == [
        "connection capacity: 2 process(es) (DB_EXPECTED_PROCESSES) x 20 connections "
        "(DB_POOL_SIZE=15 + DB_MAX_OVERFLOW=5) = 40 connections to "
        f"{cluster.primary.url().set(drivername='postgresql+psycopg2').render_as_string()}, "
        "which serves 37 (max_connections 40 - 3 reserved); past that connections are refused "
        "with 'remaining connection slots are reserved' (SQLSTATE 53300). Fix: DB_POOL_SIZE=13 "
        "or less with DB_MAX_OVERFLOW=5, or connect through the endpoint's -pooler host, or a "
        "larger compute (max_connections grows with its size)"
    ]


def test_the_worker_count_comes_from_web_concurrency_and_each_replica_is_checked(
    cluster: ReplicatedServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    replica = cluster.standby.url().render_as_string(hide_password=False)
    settings = settings_for(cluster.primary.url(), DB_POOL_SIZE=10, DATABASE_REPLICA_URLS=replica)
    engine = build_engine(settings)
    routing = read_your_writes.replica_set(engine)
    assert routing is not None
    with caplog.at_level(logging.WARNING, logger="src.database.capacity"):
        for _ in range(3):  # the replica serves these reads: the primary is not needed
            with Session(engine) as session:
                read_your_writes.follow(session, routing.tokens.issue(0))
                crud.get_user(session, 1)
        with engine.connect():  # now the primary
            pass
        engine.dispose()
    found = warnings_of(caplog)
    assert len(found) == 2  # the replica's, then the primary's (same max_connections)
    assert all("4 process(es) (WEB_CONCURRENCY) x 10 connections" in text for text in found)
    assert all("= 40 connections" in t and "Fix: DB_POOL_SIZE=9 or less" in t for t in found)
    assert f":{cluster.standby.port}/" in found[0]
    assert f":{cluster.primary.port}/" in found[1]


def test_pools_that_fit_are_not_warned_about(
    cluster: ReplicatedServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    settings = settings_for(cluster.primary.url(), DB_POOL_SIZE=37, DB_MAX_OVERFLOW=0)
    with caplog.at_level(logging.INFO, logger="src.database.capacity"):
        first_connections(build_engine(settings))
    assert warnings_of(caplog) == []


@pytest.fixture(scope="module")
def tight_pooler(cluster: ReplicatedServer) -> Iterator[int]:
    """A PgBouncer with one server connection and a short query_wait_timeout; its port."""
    settings = f"default_pool_size = 1\nquery_wait_timeout = {WAIT_TIMEOUT_S}\n"
    yield cluster.start_pooler(cluster.primary, "-tight", settings)
    cluster.stop_pooler(cluster.primary, "-tight")


@contextmanager
def pool_held(cluster: ReplicatedServer, port: int) -> Iterator[None]:
    """Another client's open transaction holds the pooler's one server connection."""
    dsn = cluster.primary.url(APP_USER).set(drivername="postgresql", port=port)
    with closing(psycopg2.connect(dsn.render_as_string(hide_password=False))) as holder:
        holder.cursor().execute("SELECT 1")
        yield


async def test_a_full_poolers_dropped_transaction_is_an_exhausted_pool(
    cluster: ReplicatedServer, tight_pooler: int
) -> None:
    engine = build_async_engine(settings_for(cluster.primary.url().set(port=tight_pooler)))
    try:
        async with new_async_session(engine) as session:
            assert await aio.get_user(session, 1) is None  # connected while the pool was free
            started = time.monotonic()
            with pool_held(cluster, tight_pooler), pytest.raises(PoolExhaustedError) as raised:
                await aio.get_user(session, 1)
            waited = time.monotonic() - started
    finally:
        await engine.dispose()
    assert isinstance(raised.value, PoolerExhaustedError)
    assert "query_wait_timeout" in str(raised.value)
    assert WAIT_TIMEOUT_S <= waited < WAIT_TIMEOUT_S + 5


def test_psycopg2_cannot_tell_a_full_pooler_from_a_cut_and_says_so(
    cluster: ReplicatedServer, tight_pooler: int
) -> None:
    engine = build_engine(settings_for(cluster.primary.url().set(port=tight_pooler)))
    try:
        with Session(engine) as session:
            assert crud.get_user(session, 1) is None
            with pool_held(cluster, tight_pooler), pytest.raises(DatabaseConnectionError) as raised:
                crud.get_user(session, 1)
    finally:
        engine.dispose()
    assert "lost the connection" in str(raised.value)
    assert not isinstance(raised.value, PoolExhaustedError)
