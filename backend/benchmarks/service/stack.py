"""The service benchmark's world: the Neon-like stand-in, two databases, and what it costs.

The stand-in is the tests' own (`tests.standins.neon_local.NeonLikeServer`): a TLS-only
PostgreSQL with SCRAM and a TLS PgBouncer in transaction mode in front, as
Neon's `-pooler` endpoint. It holds two databases with the same migrated
schema and the same rows: `neondb` for the package's example service, and
`peerdb` for the peer. Both services connect through the pooler as the
least-privilege role (`neon_app_rw`). The peer has no row-security code, so in
`peerdb` row-level security is disabled on `todo`: the owner role cannot stand
in for it (FORCE holds the owner to the policies too), and keeping the same
role keeps the same privileges, pooler pool and login path on both sides.

CPU is read from /proc/<pid>/stat (utime + stime of each live process, plus
cutime + cstime for children it has reaped), summed over a process set, before
and after a run: the uvicorn process group, the postmaster and its children
(backends that end mid-run are counted through the postmaster's cutime), and
PgBouncer. Client logins to the pooler are the "login attempt" lines PgBouncer
writes to its log for each new client connection (`log_connections`, on by
default): each one, behind Neon's pooler, is a TLS handshake and a SCRAM login.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from src import crud
from src.config.settings import Settings
from src.database.connection import build_engine, new_session
from src.database.migrations import upgrade_to_head
from src.database.roles import grant_application_role
from src.models import TodoCreate, User
from tests.standins.neon_local import APP_USER, USER, NeonLikeServer

PACKAGE_DATABASE, PEER_DATABASE = "neondb", "peerdb"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A valid Argon2id hash of nothing anyone types: the load never logs in, it signs tokens.
_UNUSED_HASH = "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA"


def prepare_databases(server: NeonLikeServer, users: int, todos_per_user: int) -> None:
    """Migrate and seed both databases alike: user ids 1..`users`, the same todos each."""
    server.admin_sql(f"CREATE DATABASE {PEER_DATABASE} OWNER {USER}")
    for database in (PACKAGE_DATABASE, PEER_DATABASE):
        engine = build_engine(Settings(_env_file=None, DATABASE_URL=server.direct_url(database)))
        try:
            upgrade_to_head(engine)
            with engine.begin() as connection:
                grant_application_role(connection, APP_USER)
                if database == PEER_DATABASE:
                    connection.exec_driver_sql("ALTER TABLE todo NO FORCE ROW LEVEL SECURITY")
                    connection.exec_driver_sql("ALTER TABLE todo DISABLE ROW LEVEL SECURITY")
            _seed(engine, users, todos_per_user)
        finally:
            engine.dispose()
    _analyze(server)


def _seed(engine: Engine, users: int, todos_per_user: int) -> None:
    with new_session(engine) as session:
        for n in range(users):
            user = User.model_validate(
                {"email": f"load{n}@example.com", "hashed_password": _UNUSED_HASH}
            )
            session.add(user)
            session.commit()
            assert user.id == n + 1, "a fresh database numbers its users from 1"
            items = [
                TodoCreate(title=f"todo {i}", description="seeded", completed=i % 3 == 0)
                for i in range(todos_per_user)
            ]
            crud.create_todos(session, user.id, items)


def _analyze(server: NeonLikeServer) -> None:
    import psycopg2  # noqa: PLC0415  the stand-in's admin socket, per database

    for database in (PACKAGE_DATABASE, PEER_DATABASE):
        connection = psycopg2.connect(
            host=str(server.root), port=server.port, user="postgres", dbname=database
        )
        connection.autocommit = True
        with closing(connection), connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def service_url(server: NeonLikeServer, database: str) -> str:
    """Through the pooler, as the least-privilege role, password included (for the child)."""
    url: URL = server.app_pooler_url(database)
    return url.render_as_string(hide_password=False)


# --- what a run costs -------------------------------------------------------------------
def _stat_fields(pid: int) -> list[str] | None:
    with suppress(OSError):
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()
    return None


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU of `pids`, with what their reaped children used."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:  # fields[11:15]: utime, stime, cutime, cstime
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / _CLOCK_TICKS


def _processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdecimal() and (fields := _stat_fields(int(entry.name))) is not None:
            found.append((int(entry.name), int(fields[1]), int(fields[2])))
    return found


def group_pids(group: int) -> list[int]:
    return [pid for pid, _, pgrp in _processes() if pgrp == group]


def postgres_pids(server: NeonLikeServer) -> list[int]:
    """The postmaster and its children (backends, checkpointer, walwriter, ...)."""
    postmaster = int((server.data / "postmaster.pid").read_text().splitlines()[0])
    return [postmaster, *(pid for pid, parent, _ in _processes() if parent == postmaster)]


def pooler_pid(server: NeonLikeServer) -> int:
    return int((server.root / "pgbouncer.pid").read_text().strip())


def pooler_logins(server: NeonLikeServer) -> int:
    """Client logins PgBouncer has logged so far (one line per new client connection)."""
    with (server.root / "pgbouncer.log").open(errors="replace") as log:
        return sum(1 for line in log if "login attempt" in line)


@dataclass(frozen=True, slots=True)
class Snapshot:
    service_s: float
    postgres_s: float
    pooler_s: float
    driver_s: float
    logins: int

    @classmethod
    def take(cls, server: NeonLikeServer, service_group: int) -> Snapshot:
        times = os.times()
        return cls(
            service_s=cpu_seconds(group_pids(service_group)),
            postgres_s=cpu_seconds(postgres_pids(server)),
            pooler_s=cpu_seconds([pooler_pid(server)]),
            driver_s=times.user + times.system,
            logins=pooler_logins(server),
        )

    def __sub__(self, before: Snapshot) -> Snapshot:
        return Snapshot(
            self.service_s - before.service_s,
            self.postgres_s - before.postgres_s,
            self.pooler_s - before.pooler_s,
            self.driver_s - before.driver_s,
            self.logins - before.logins,
        )
