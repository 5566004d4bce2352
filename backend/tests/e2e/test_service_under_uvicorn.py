"""The example service under uvicorn (2 workers), through TLS PgBouncer, while PostgreSQL restarts.

This is the deployment the package exists for: a FastAPI service on uvicorn
worker processes, connected as the least-privilege role through Neon's shape
of pooler (TLS, PgBouncer in transaction mode). Several users drive a bounded
load, each checked against a model of its own todos; PostgreSQL is restarted
(an immediate stop, as a crash or a compute restart is) in the middle of it.
Afterwards the database is reconciled with the models.

The claims: no answer is a 500; uvicorn logs no exception (an exception after
a response started would be the only trace of a broken request); no user ever
sees another user's todo; no acknowledged write is lost and no refused write
is applied; and the service answers again within RECOVERY_BOUND_S of
PostgreSQL accepting connections again.

After a failed server login PgBouncer answers every client with an error for
`server_login_retry` seconds (15 by default; Neon does not document its
value), so the first requests during the restart lock the pooler for that
long whatever the service does. This server's pooler waits POOLER_RETRY_S,
and the bound is that wait plus what the service itself needs: a pooled
connection idle past the liveness window is pinged and replaced unseen, one
used moments before the restart fails its next statement (a 503, nothing
applied) and the pool is refreshed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import closing

import httpx2
import psycopg2
import pytest

from tests.conftest import grant, migrate, started_neon_like
from tests.e2e.load import Tally, User
from tests.standins.neon_local import APP_USER, NeonLikeServer
from tests.standins.uvicorn_server import UvicornServer

USERS = 6
MAX_OPERATIONS_PER_USER = 150
LOAD_DURATION_S = 10.0
RESTART_AFTER_S = 3.0
POOLER_RETRY_S = 2
RECOVERY_BOUND_S = POOLER_RETRY_S + 3.0
TOKEN_SECRET = "djLYCkhS_k2VGzd4IXDXPcCH4ySewsEIqWkMZ57tAm4"


@pytest.fixture(scope="module")
def neon() -> Iterator[NeonLikeServer]:
    """A Neon-like server of this module's own, since the test restarts it."""
    server = started_neon_like(server_login_retry_s=POOLER_RETRY_S)
    try:
        migrate(server.direct_url())
        grant(server.direct_url(), APP_USER)
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sync_app", "async_app"])
def service(request: pytest.FixtureRequest, neon: NeonLikeServer) -> Iterator[UvicornServer]:
    environment = {
        **os.environ,
        "DATABASE_URL": neon.app_pooler_url().render_as_string(hide_password=False),
        "DB_TRANSACTION_POOLER": "true",
        "DB_CONNECT_TIMEOUT_S": "5",
        "EXAMPLE_TOKEN_SECRET": TOKEN_SECRET,
    }
    server = UvicornServer(f"examples.{request.param}:app", environment, workers=2)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        with closing(database_of(neon)) as connection, connection.cursor() as cursor:
            cursor.execute('DELETE FROM "user"')


def database_of(neon: NeonLikeServer) -> psycopg2.extensions.connection:
    """The application database as the superuser, who sees every row despite row security."""
    connection = psycopg2.connect(
        host=str(neon.root), port=neon.port, user="postgres", dbname="neondb"
    )
    connection.autocommit = True
    return connection


class Prober(threading.Thread):
    """Asks one user's counts every 50 ms; records (time, status or None) until stopped."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.http = httpx2.Client(base_url=base_url, headers=headers, timeout=20)
        self.samples: list[tuple[float, int | None]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with self.http:
            while not self.halt.is_set():
                try:
                    status: int | None = self.http.get("/todos/counts").status_code
                except httpx2.TransportError:
                    status = None
                self.samples.append((time.monotonic(), status))
                self.halt.wait(0.05)


def reconcile(neon: NeonLikeServer, users: list[User]) -> tuple[list[str], list[str]]:
    """(acknowledged writes lost, unacknowledged writes applied), from the database's rows."""
    lost: list[str] = []
    applied: list[str] = []
    with closing(database_of(neon)) as connection, connection.cursor() as cursor:
        for user in users:
            cursor.execute(
                "SELECT id, title, completed FROM todo WHERE user_id = %s", (user.user_id,)
            )
            stored = {todo_id: (title, completed) for todo_id, title, completed in cursor}
            for todo_id, state in user.model.items():
                if stored.get(todo_id) == state:
                    continue
                record = f"user {user.user_id} todo {todo_id}: {stored.get(todo_id)} != {state}"
                (applied if todo_id in user.unacknowledged else lost).append(record)
            for todo_id, (title, _) in stored.items():
                if todo_id not in user.model:
                    refused = todo_id in user.unacknowledged or title in user.unacknowledged
                    record = f"user {user.user_id} todo {todo_id} {title!r} not in the model"
                    (applied if refused else lost).append(record)
    return lost, applied


def test_the_service_keeps_every_promise_while_postgres_restarts(
    neon: NeonLikeServer, service: UvicornServer
) -> None:
    tally = Tally()
    users = [User(n, service.base_url, tally, seed=n) for n in range(USERS)]
    for user in users:
        user.sign_up()
    prober = Prober(service.base_url, dict(users[0].http.headers))
    started = time.monotonic()
    until = started + LOAD_DURATION_S
    threads = [
        threading.Thread(target=user.run, args=(until, MAX_OPERATIONS_PER_USER)) for user in users
    ]
    prober.start()
    for thread in threads:
        thread.start()
    time.sleep(RESTART_AFTER_S)
    restart_began = time.monotonic()
    neon.restart_postgres()
    restarted = time.monotonic()
    for thread in threads:
        thread.join(timeout=LOAD_DURATION_S + 60)
    load_s = time.monotonic() - started
    time.sleep(max(0.0, restarted + RECOVERY_BOUND_S - time.monotonic()))
    prober.halt.set()
    prober.join(timeout=30)
    service.stop()  # flushes the log; the fixture's stop is then a no-op

    first_ok = next((t for t, status in prober.samples if t > restarted and status == 200), None)
    lost, applied = reconcile(neon, users)
    summary = (
        f"{tally.requests} requests by {USERS} users in {load_s:.1f} s "
        f"(PostgreSQL restarted at {restart_began - started:.1f} s), "
        f"statuses {dict(sorted(tally.statuses.items()))}, "
        f"transport errors {len(tally.transport_errors)}; PostgreSQL down for "
        f"{restarted - restart_began:.2f} s; service answering "
        f"{(first_ok or float('nan')) - restarted:.2f} s after it was back; "
        f"probe statuses {sorted({s for _, s in prober.samples}, key=str)}"
    )
    print(summary)
    assert tally.statuses[500] == 0, tally.unexpected
    assert tally.unexpected == [], tally.unexpected
    assert tally.transport_errors == [], tally.transport_errors
    assert "Exception in ASGI application" not in service.log, service.log[-3000:]
    assert "Traceback" not in service.log, service.log[-3000:]
    assert tally.cross_user_reads == []
    assert tally.mismatches == []
    assert lost == []
    assert applied == []
    assert all(status in {200, 503} for _, status in prober.samples), summary
    assert first_ok is not None, f"{summary}; log: {service.log[-3000:]}"
    assert first_ok - restarted <= RECOVERY_BOUND_S, summary
    assert tally.statuses[200] + tally.statuses[201] > USERS * 10, summary  # the load did run
