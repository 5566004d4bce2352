"""A replica that is down, lagging, in conflict or not a replica costs no read; it comes back.

A real primary and hot standby (`pg_basebackup -R`), directly and through
PgBouncer, as the application role. Every read here asks for a position the
standby has replayed, so only the replica's own state can send it to the
primary; each test reads that from the process's tally and checks every
answer. Each test leaves the tables empty and the standby running, replaying.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from src import crud
from src.config.settings import Settings
from src.crud import aio
from src.database import read_your_writes
from src.database.async_connection import build_async_engine, new_async_session
from src.database.connection import build_engine
from src.database.migrations import downgrade_to, upgrade_to_head
from src.models import Todo, TodoCreate, TodoUpdate
from tests.conftest import add_user, settings_for, tid, uid
from tests.standins.neon_local import USER
from tests.standins.replica_local import ReplicatedServer

BOUND_S = 0.5  # DB_REPLICA_MAX_LAG_S here
COMEBACK_S = 20.0  # the longest time out is 10 s; the standby restarts meanwhile


def routed_settings(cluster: ReplicatedServer, *, pooled: bool = False, **more: object) -> Settings:
    replica = cluster.standby.url(pooled=pooled).render_as_string(hide_password=False)
    return settings_for(
        cluster.primary.url(pooled=pooled),
        DATABASE_REPLICA_URLS=replica,
        DB_REPLICA_MAX_LAG_S=BOUND_S,
        **more,
    )


@pytest.fixture
def engine_for(cluster: ReplicatedServer) -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def make(*, pooled: bool = False, **more: object) -> Engine:
        made.append(build_engine(routed_settings(cluster, pooled=pooled, **more)))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()
    cluster.reset_standby()
    with closing(cluster.primary.admin()) as connection, connection.cursor() as cursor:
        cursor.execute('DELETE FROM "user"')


def written(engine: Engine, cluster: ReplicatedServer) -> tuple[Session, int, Todo]:
    """A session holding a user's write, replayed by the standby: its reads may use it."""
    session = Session(engine, expire_on_commit=False)
    user = add_user(session, f"{uid_seed()}@example.com")
    todo = crud.create_todo(session, uid(user), TodoCreate(title="kept"))
    cluster.wait_for_replay()
    return session, uid(user), todo


_seed = iter(range(10**6))


def uid_seed() -> str:
    return f"health{next(_seed)}"


def until_served(engine: Engine, read: Callable[[], object]) -> float:
    """Read until the replica serves a read again; the seconds that took."""
    started, before = time.monotonic(), read_your_writes.statistics(engine).get("replica", 0)
    while read_your_writes.statistics(engine).get("replica", 0) == before:
        assert time.monotonic() - started < COMEBACK_S, read_your_writes.statistics(engine)
        read()
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("pooled", [False, True], ids=["direct", "pooler"])
def test_a_stopped_replica_fails_no_read_and_serves_again_once_back(
    cluster: ReplicatedServer, engine_for: Callable[..., Engine], pooled: bool
) -> None:
    engine = engine_for(pooled=pooled)
    session, user_id, todo = written(engine, cluster)
    with session:
        assert crud.get_todo(session, user_id, tid(todo)).title == "kept"
        cluster.stop_compute(cluster.standby)
        titles = [crud.get_todo(session, user_id, tid(todo)).title for _ in range(20)]
        counts = [crud.count_todos(session, user_id).total for _ in range(20)]
        down = read_your_writes.statistics(engine)
        cluster.start_compute(cluster.standby)
        took = until_served(engine, lambda: crud.get_todo(session, user_id, tid(todo)))
    assert (set(titles), set(counts)) == ({"kept"}, {1})
    assert down["replica"] == 1
    assert down["primary: replica down"] >= 1
    assert down["primary: replica down"] + down["primary: replicas out"] == 40
    assert took < COMEBACK_S


async def test_asyncio_reads_pass_over_a_stopped_replica(
    cluster: ReplicatedServer, engine_for: Callable[..., Engine]
) -> None:
    blocking = engine_for()
    session, user_id, todo = written(blocking, cluster)
    engine = build_async_engine(routed_settings(cluster))
    try:
        async with new_async_session(engine) as reader:
            read_your_writes.follow(reader.sync_session, read_your_writes.position_token(session))
            assert (await aio.get_todo(reader, user_id, tid(todo))).title == "kept"
            await asyncio.to_thread(cluster.stop_compute, cluster.standby)
            for _ in range(10):
                assert (await aio.get_todo(reader, user_id, tid(todo))).title == "kept"
        tally = read_your_writes.statistics(engine.sync_engine)
    finally:
        session.close()
        await engine.dispose()
    assert tally["replica"] == 1
    assert tally["primary: replica down"] + tally.get("primary: replicas out", 0) == 10


def test_a_replica_with_no_free_connection_sends_the_read_to_the_primary_soon(
    cluster: ReplicatedServer, engine_for: Callable[..., Engine]
) -> None:
    engine = engine_for(DB_POOL_SIZE=1, DB_POOL_TIMEOUT_S=10)
    session, user_id, todo = written(engine, cluster)
    found = read_your_writes.replica_set(engine)
    assert found is not None
    with session, found.replicas[0][0].connect():  # the replica's one connection, busy
        started = time.monotonic()
        title = crud.get_todo(session, user_id, tid(todo)).title
        waited = time.monotonic() - started
    assert title == "kept"
    assert read_your_writes.statistics(engine) == {"primary: replica busy": 1}
    assert waited < 2  # a quarter of a second for the replica's pool, not DB_POOL_TIMEOUT_S


def test_a_replica_lagging_beyond_the_bound_is_skipped_until_it_catches_up(
    cluster: ReplicatedServer, engine_for: Callable[..., Engine]
) -> None:
    engine = engine_for()
    session, user_id, _ = written(engine, cluster)
    position = read_your_writes.position_token(
        session
    )  # a position the paused standby has replayed
    with session:
        cluster.standby.sql("SELECT pg_wal_replay_pause()")
        crud.create_todo(session, user_id, TodoCreate(title="unreplayed"))
        cluster.primary.sql("SELECT txid_current()")  # the standby receives what it cannot apply
        time.sleep(BOUND_S * 2)
        with Session(engine) as old_client:
            read_your_writes.follow(old_client, position)
            lagging = [crud.count_todos(old_client, user_id).total for _ in range(5)]
        skipped = read_your_writes.statistics(engine)
        cluster.standby.sql("SELECT pg_wal_replay_resume()")
        until_served(engine, lambda: crud.count_todos(session, user_id))
    assert lagging == [2] * 5
    assert skipped["primary: replica lagging"] >= 1  # again after each time out
    assert skipped["primary: replica lagging"] + skipped["primary: replicas out"] == 5
    assert "replica" not in skipped


def test_a_replica_cut_off_from_the_primary_is_skipped_once_the_primary_is_the_bound_ahead(
    cluster: ReplicatedServer, engine_for: Callable[..., Engine]
) -> None:
    engine = engine_for()
    session, user_id, todo = written(engine, cluster)
    position = read_your_writes.position_token(session)
    with session:
        # Streaming from a port nobody listens on: what it received it has replayed, so
        # only the primary's position (where it was BOUND_S ago) shows the lag.
        cluster.configure_standby(primary_conninfo="host=127.0.0.1 port=1 user=postgres")
        crud.update_todo(session, user_id, tid(todo), TodoUpdate(title="moved"))
        time.sleep(BOUND_S * 1.5)
        crud.create_todo(session, user_id, TodoCreate(title="later"))
        with Session(engine) as old_client:
            read_your_writes.follow(old_client, position)
            assert crud.count_todos(old_client, user_id).total == 2
    assert read_your_writes.statistics(engine)["primary: replica lagging"] == 1


def test_a_replica_that_has_not_replayed_a_migration_leaves_the_read_to_the_primary(
    cluster: ReplicatedServer, engine_for: Callable[..., Engine]
) -> None:
    """Migration 0009 adds `todo.search_head`, which a search reads. A standby that has not
    replayed it yet (replay paused here) has no such column; another worker, holding the
    client's read position (which the standby has replayed), sends the search there, and the
    primary must answer it instead of an error."""
    writer, reader = engine_for(), engine_for()
    session, user_id, _todo = written(writer, cluster)
    position = read_your_writes.position_token(session)  # the cookie a client carries
    owner = build_engine(settings_for(cluster.primary.url(USER)))  # the tables' owner
    try:
        downgrade_to("0008", owner)
        cluster.wait_for_replay()
        cluster.standby.sql("SELECT pg_wal_replay_pause()")
        upgrade_to_head(owner)  # on the primary only: the standby keeps 0008's schema
        with Session(reader) as another_worker:  # never wrote for the user; has its cookie
            read_your_writes.follow(another_worker, position)
            assert len(crud.list_todos(another_worker, user_id, search="KEPT").items) == 1
    finally:
        cluster.reset_standby()  # replaying again: both at the head revision
        owner.dispose()
        session.close()
    assert read_your_writes.statistics(reader) == {"primary: replica behind the schema": 1}


def test_a_recovery_conflict_on_the_replica_is_answered_by_the_primary(
    cluster: ReplicatedServer, engine_for: Callable[..., Engine]
) -> None:
    """The read waits on the standby for a lock that the primary's open REINDEX holds,
    keeping its snapshot; VACUUM then removes rows that snapshot could see: PostgreSQL
    cancels the read (40001) after `max_standby_streaming_delay`, and the primary, once
    the REINDEX ends, answers it."""
    engine = engine_for()
    session, user_id, todo = written(engine, cluster)
    cluster.configure_standby(max_standby_streaming_delay="100ms")
    cluster.primary.sql("CREATE TABLE IF NOT EXISTS scratch (n int)")
    older, holder = cluster.primary.admin(), cluster.primary.admin()
    answers: list[object] = []
    reader = threading.Thread(
        target=lambda: answers.append(crud.get_todo(session, user_id, tid(todo)).title)
    )
    try:
        older.cursor().execute("BEGIN; INSERT INTO scratch VALUES (0)")  # an xid below the delete's
        cluster.primary.sql("INSERT INTO scratch SELECT generate_series(1, 100)")
        cluster.primary.sql("DELETE FROM scratch WHERE n > 0")
        holder.cursor().execute("BEGIN; REINDEX INDEX pk_todo")  # the lock the read will wait for
        cluster.wait_for_replay()
        reader.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        while cluster.standby.sql(waiting) == 0:
            time.sleep(0.02)
        older.cursor().execute("ROLLBACK")
        cluster.primary.sql("VACUUM scratch")  # cleans up rows the waiting read can see
        while "primary: replica conflict" not in read_your_writes.statistics(engine):
            time.sleep(0.02)
    finally:
        holder.cursor().execute("ROLLBACK")  # the primary can answer the read now
        reader.join(30)
        for connection in (older, holder):
            connection.close()
        cluster.primary.sql("DROP TABLE scratch")
        session.close()
    assert answers == ["kept"]
    assert read_your_writes.statistics(engine) == {"primary: replica conflict": 1}


def test_a_url_that_names_a_primary_is_never_read_as_a_replica(
    cluster: ReplicatedServer, caplog: pytest.LogCaptureFixture
) -> None:
    primary = cluster.primary.url()
    settings = settings_for(
        primary, DATABASE_REPLICA_URLS=primary.render_as_string(hide_password=False)
    )
    engine = build_engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session, caplog.at_level(logging.WARNING):
            user = add_user(session, "primary-twice@example.com")
            crud.create_todo(session, uid(user), TodoCreate(title="once"))
            totals = [crud.count_todos(session, uid(user)).total for _ in range(3)]
            crud.delete_user(session, uid(user))
    finally:
        engine.dispose()
    assert totals == [1, 1, 1]
    assert read_your_writes.statistics(engine) == {
        "primary: replica not in recovery": 1,
        "primary: replicas out": 2,
    }
    assert any("not in recovery" in record.getMessage() for record in caplog.records)
