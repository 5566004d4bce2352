"""Reads on a read replica never miss the reader's own writes; writes never reach it.

A real primary and a hot standby (`pg_basebackup -R`), directly and through
PgBouncer in transaction mode, with the application role (row security on).
The standby applies WAL `LAG` late (`recovery_min_apply_delay`), so a read
sent to it right after a write would be stale: the naive read is measured
next to the package's on every write. Each test leaves the tables empty and
the standby as it found it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import closing

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from src import crud
from src.config.settings import Settings
from src.crud import aio
from src.database import read_your_writes
from src.database.async_connection import build_async_engine
from src.database.connection import build_engine
from src.errors import TodoNotFoundError
from src.models import TodoCreate, TodoUpdate, UserCreate
from tests.conftest import add_user, settings_for, tid, uid
from tests.standins.replica_local import ReplicatedServer
from tests.standins.round_trip_proxy import RoundTripProxy

LAG = "2s"  # the standby's apply delay: far longer than a write-then-read takes
LOOPS = 60
KEY = "SpaaAKLxA3fQliO1yYR1b86Ci-Cd5OGqBVJVPjvFQbo"


@pytest.fixture(params=["direct", "pooler"])
def routed(request: pytest.FixtureRequest, cluster: ReplicatedServer) -> Iterator[Settings]:
    """Settings naming the primary and the standby as its replica, both reached one way."""
    pooled = request.param == "pooler"
    replica = cluster.standby.url(pooled=pooled).render_as_string(hide_password=False)
    yield settings_for(
        cluster.primary.url(pooled=pooled), DATABASE_REPLICA_URLS=replica, CURSOR_SECRET_KEY=KEY
    )
    cluster.reset_standby()
    with closing(cluster.primary.admin()) as connection, connection.cursor() as cursor:
        cursor.execute('DELETE FROM "user"')  # their todos with them


@pytest.fixture
def routed_engine(routed: Settings) -> Iterator[Engine]:
    engine = build_engine(routed)
    yield engine
    engine.dispose()


def test_a_read_after_the_sessions_own_write_sees_it_while_the_replica_lags(
    cluster: ReplicatedServer, routed_engine: Engine
) -> None:
    cluster.configure_standby(recovery_min_apply_delay=LAG)
    stale = naive_stale = 0
    with Session(routed_engine, expire_on_commit=False) as session:
        user = add_user(session, "lag@example.com")
        for n in range(LOOPS):
            todo = crud.create_todo(session, uid(user), TodoCreate(title=f"v{n}"))
            crud.update_todo(session, uid(user), tid(todo), TodoUpdate(title=f"w{n}"))
            naive_stale += cluster.standby_title(uid(user), tid(todo)) != f"w{n}"
            session.expunge_all()  # what a request's fresh session would hold: nothing
            stale += crud.get_todo(session, uid(user), tid(todo)).title != f"w{n}"
            stale += crud.count_todos(session, uid(user)).total != n + 1
        refused = read_your_writes.statistics(routed_engine)
        cluster.reset_standby()  # caught up: the replica serves the same reads
        crud.list_todos(session, uid(user), limit=5)
        crud.get_user(session, uid(user))
    served = read_your_writes.statistics(routed_engine)
    assert (stale, naive_stale) == (0, LOOPS)
    assert refused.get("replica", 0) == 0
    assert refused["primary: replica behind"] == 2 * LOOPS
    assert served["replica"] == 2


def test_a_write_committed_asynchronously_is_read_back_too(
    cluster: ReplicatedServer, routed_engine: Engine
) -> None:
    """With `synchronous_commit = off` a commit record can sit in the WAL buffers behind
    the write position (`pg_current_wal_lsn`): a replica at that position misses it. The
    position taken is the insert position, which is past it."""
    with closing(cluster.primary.admin()) as connection, connection.cursor() as cursor:
        cursor.execute("ALTER SYSTEM SET synchronous_commit = off")
        cursor.execute("SELECT pg_reload_conf()")
    stale = 0
    try:
        with Session(routed_engine, expire_on_commit=False) as session:
            user = add_user(session, "async-commit@example.com")
            for n in range(LOOPS):
                todo = crud.create_todo(session, uid(user), TodoCreate(title=f"a{n}"))
                session.expunge_all()
                try:
                    stale += crud.get_todo(session, uid(user), tid(todo)).title != f"a{n}"
                except TodoNotFoundError:
                    stale += 1
    finally:
        with closing(cluster.primary.admin()) as connection, connection.cursor() as cursor:
            cursor.execute("ALTER SYSTEM RESET synchronous_commit")
            cursor.execute("SELECT pg_reload_conf()")
    assert stale == 0
    assert sum(read_your_writes.statistics(routed_engine).values()) == LOOPS


async def test_asyncio_reads_follow_the_same_rule(
    cluster: ReplicatedServer, routed: Settings
) -> None:
    cluster.configure_standby(recovery_min_apply_delay=LAG)
    engine = build_async_engine(routed)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            user = await aio.create_user(
                session,
                UserCreate(email="aio@example.com", password=SecretStr("a long enough password")),
            )
            todo = await aio.create_todo(session, uid(user), TodoCreate(title="first"))
            assert (await aio.get_todo(session, uid(user), tid(todo))).title == "first"
            assert (await aio.get_user_by_email(session, "aio@example.com")) is not None
            await asyncio.to_thread(cluster.reset_standby)
            assert (await aio.list_todos(session, uid(user))).items[0].title == "first"
        tally = read_your_writes.statistics(engine.sync_engine)
    finally:
        await engine.dispose()
    assert tally == {"primary: replica behind": 2, "replica": 1}


def test_without_a_position_a_read_goes_to_the_primary(
    cluster: ReplicatedServer, routed_engine: Engine
) -> None:
    with Session(routed_engine, expire_on_commit=False) as session:
        user = add_user(session, "fresh@example.com")  # written without the package: no position
        cluster.wait_for_replay()
        assert crud.get_user(session, uid(user)) is not None
        assert crud.count_todos(session, uid(user)).total == 0
    assert read_your_writes.statistics(routed_engine) == {"primary: no position": 2}


FORGERIES = [
    "",
    "0000000000000000",
    "0000000000000000.AAAAAAAAAAAAAAAAAAAAAA",
    "ffffffffffffffff.AAAAAAAAAAAAAAAAAAAAAA",
    "00000000000000\u0660\u0660.AAAAAAAAAAAAAAAAAAAAAA",
    "x" * 10_000,
]


def test_only_a_token_this_service_issued_sends_reads_to_a_replica(
    cluster: ReplicatedServer, routed_engine: Engine
) -> None:
    with Session(routed_engine) as writer:
        user = add_user(writer, "token@example.com")
        crud.create_todo(writer, uid(user), TodoCreate(title="mine"))
        token = read_your_writes.position_token(writer)
    assert token is not None
    cluster.wait_for_replay()
    tampered = [*FORGERIES, token[:-1] + ("A" if token[-1] != "A" else "B"), token.upper()]
    tampered.append(f"{int(token[:16], 16) - 1:016x}{token[16:]}")
    for forged in tampered:
        with Session(routed_engine) as session:
            read_your_writes.follow(session, forged)
            crud.count_todos(session, uid(user))
    with Session(routed_engine) as session:
        read_your_writes.follow(session, token)
        assert crud.count_todos(session, uid(user)).total == 1
    assert read_your_writes.statistics(routed_engine) == {
        "primary: no position": len(tampered),
        "replica": 1,
    }


def test_row_security_holds_on_the_replica(
    cluster: ReplicatedServer, routed_engine: Engine
) -> None:
    with Session(routed_engine, expire_on_commit=False) as session:
        ann, bob = add_user(session, "ann@example.com"), add_user(session, "bob@example.com")
        bobs = crud.create_todo(session, uid(bob), TodoCreate(title="bob's"))
        crud.create_todo(session, uid(ann), TodoCreate(title="ann's"))
        cluster.wait_for_replay()
        with pytest.raises(TodoNotFoundError):
            crud.get_todo(session, uid(ann), tid(bobs))
        assert [t.title for t in crud.list_todos(session, uid(ann)).items] == ["ann's"]
    assert read_your_writes.statistics(routed_engine) == {"replica": 2}
    assert cluster.standby_title(uid(ann), tid(bobs)) is None  # the policy itself, on the standby


def test_a_caught_up_read_costs_the_replica_one_round_trip_and_the_primary_none(
    cluster: ReplicatedServer,
) -> None:
    primary, standby = cluster.primary.url(), cluster.standby.url()
    with (
        RoundTripProxy("127.0.0.1", int(primary.port or 0)) as to_primary,
        RoundTripProxy("127.0.0.1", int(standby.port or 0)) as to_standby,
    ):
        replica = standby.set(port=to_standby.port).render_as_string(hide_password=False)
        engine = build_engine(
            settings_for(primary.set(port=to_primary.port), DATABASE_REPLICA_URLS=replica)
        )
        try:
            with Session(engine, expire_on_commit=False) as session:
                user = add_user(session, "trips@example.com")
                todo = crud.create_todo(session, uid(user), TodoCreate(title="warm"))
                crud.get_todo(session, uid(user), tid(todo))  # warms the replica's pool
                cluster.wait_for_replay()
                with to_primary.counting() as on_primary, to_standby.counting() as on_replica:
                    crud.get_todo(session, uid(user), tid(todo))
                with to_primary.counting() as writing, to_standby.counting() as not_replica:
                    crud.update_todo(session, uid(user), tid(todo), TodoUpdate(title="x"))
                crud.delete_user(session, uid(user))
        finally:
            engine.dispose()
    assert (on_primary, on_replica) == ([0], [1])
    assert (writing, not_replica) == ([2], [0])  # the write, then its WAL position


def test_a_write_or_a_read_in_the_callers_transaction_never_reaches_the_replica(
    cluster: ReplicatedServer, routed_engine: Engine
) -> None:
    with Session(routed_engine, expire_on_commit=False) as session:
        user = add_user(session, "txn@example.com")
        todo = crud.create_todo(session, uid(user), TodoCreate(title="a"))
        cluster.wait_for_replay()
        session.begin()  # the caller's transaction: everything in it on the primary
        assert crud.get_todo(session, uid(user), tid(todo)).title == "a"
        crud.update_todo(session, uid(user), tid(todo), TodoUpdate(title="b"))  # commits it
        session.begin()
        assert crud.count_todos(session, uid(user)).total == 1
        session.commit()
        crud.create_todos(session, uid(user), [TodoCreate(title=f"{n}") for n in range(3)])
        crud.delete_todo(session, uid(user), tid(todo))
        crud.delete_user(session, uid(user))
    assert read_your_writes.statistics(routed_engine) == {}
    assert "read-only transaction" not in cluster.log_of(cluster.standby)
