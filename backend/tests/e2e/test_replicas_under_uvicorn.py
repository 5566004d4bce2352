"""Two instances of the example service share a read replica: a client reads its own writes.

Each instance is a uvicorn process of its own with `DATABASE_REPLICA_URLS`
set and no other change; a client that keeps cookies writes through one and
reads through the other, alternately. The standby applies WAL `LAG` late,
so a read sent to it right after a write would be stale; the same read made
directly on the standby is counted beside the service's as the naive figure.
The standby logs its statements, so the reads it served (its check passed)
are counted there. Then the replica is stopped and started under traffic:
no request may fail, and the replica must serve again.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import closing

import httpx2
import pytest

from tests.standins.replica_local import ReplicatedServer
from tests.standins.uvicorn_server import UvicornServer

LAG = "2s"  # far longer than a request takes, even on a loaded machine
LOOPS = 40
TOKEN_SECRET = "e65g4oi3os6lXDbhU-zpl19477qaAz7QHYzWATlAq1M"
PASSWORD = "replica-e2e-password-1"
_CHECK = re.compile(r"statement: SELECT \(CASE WHEN r\.replay")
_REFUSED = re.compile(r'ERROR:  invalid input syntax for type pg_lsn: "todo-replica')


@pytest.fixture(
    params=[("sync_app", False), ("async_app", True)], ids=["sync-direct", "async-pooler"]
)
def services(
    request: pytest.FixtureRequest, cluster: ReplicatedServer
) -> Iterator[tuple[UvicornServer, UvicornServer]]:
    app, pooled = request.param
    environment = {
        **os.environ,
        "DATABASE_URL": cluster.primary.url(pooled=pooled).render_as_string(hide_password=False),
        "DATABASE_REPLICA_URLS": cluster.standby.url(pooled=pooled).render_as_string(
            hide_password=False
        ),
        "CURSOR_SECRET_KEY": "U1l0yOYQ4HMn6fyAbWXWO3Sowjkf3qZuDFKLfcRF_dk",
        "EXAMPLE_TOKEN_SECRET": TOKEN_SECRET,
        "DB_POOL_SIZE": "5",
    }
    first, second = (UvicornServer(f"examples.{app}:app", environment, workers=1) for _ in "ab")
    try:
        first.start()
        second.start()
        cluster.configure_standby(log_statement="all")
        yield first, second
    finally:
        first.stop()
        second.stop()
        cluster.reset_standby()
        with closing(cluster.primary.admin()) as connection, connection.cursor() as cursor:
            cursor.execute('DELETE FROM "user"')


def signed_up(client: httpx2.Client, base_url: str, email: str) -> int:
    account = {"email": email, "password": PASSWORD}
    user_id = int(client.post(f"{base_url}/users", json=account).raise_for_status().json()["id"])
    login = client.post(f"{base_url}/login", json=account).raise_for_status().json()
    client.headers["Authorization"] = f"Bearer {login['access_token']}"
    return user_id


def served_by_standby(cluster: ReplicatedServer) -> int:
    log = cluster.log_of(cluster.standby)
    return len(_CHECK.findall(log)) - len(_REFUSED.findall(log))


def test_a_client_reads_its_own_writes_through_either_instance(
    cluster: ReplicatedServer, services: tuple[UvicornServer, UvicornServer]
) -> None:
    first, second = (service.base_url for service in services)
    cluster.configure_standby(recovery_min_apply_delay=LAG)
    stale, naive_stale, reads, served_before = [], 0, 0, served_by_standby(cluster)
    with httpx2.Client(timeout=20) as client:
        user_id = signed_up(client, first, "rw@example.com")
        for n in range(LOOPS):
            writer, reader = (first, second) if n % 2 == 0 else (second, first)
            todo = client.post(f"{writer}/todos", json={"title": f"v{n}"}).raise_for_status().json()
            naive_stale += cluster.standby_title(user_id, todo["id"]) != f"v{n}"
            answer = client.get(f"{reader}/todos/{todo['id']}")
            counts = client.get(f"{writer}/todos/counts").json()
            reads += 2
            if answer.status_code != 200 or answer.json()["title"] != f"v{n}":
                stale.append(f"{n}: {answer.status_code} {answer.text}")
            if counts["total"] != n + 1:
                stale.append(f"{n}: counts {counts}")
        during_lag = served_by_standby(cluster) - served_before
        cluster.reset_standby()
        cluster.configure_standby(log_statement="all")
        for base_url in (first, second) * 5:  # caught up: the replica serves them
            assert client.get(f"{base_url}/todos", params={"limit": 5}).status_code == 200
            reads += 1
    served = served_by_standby(cluster) - served_before
    print(f"{reads} reads: stale {len(stale)}, naive stale {naive_stale}/{LOOPS}, replica {served}")
    assert stale == []
    assert naive_stale == LOOPS
    assert during_lag == 0
    assert served == 10


def test_no_request_fails_while_the_replica_stops_and_starts(
    cluster: ReplicatedServer, services: tuple[UvicornServer, UvicornServer]
) -> None:
    bases = [service.base_url for service in services]
    statuses: list[int] = []
    with httpx2.Client(timeout=20) as client:
        signed_up(client, bases[0], "outage@example.com")
        todo = client.post(f"{bases[0]}/todos", json={"title": "up"}).raise_for_status().json()
        cluster.wait_for_replay()

        def burst(count: int) -> None:
            for n in range(count):
                statuses.append(client.get(f"{bases[n % 2]}/todos/{todo['id']}").status_code)
                statuses.append(client.get(f"{bases[n % 2]}/todos/counts").status_code)

        burst(10)
        before = served_by_standby(cluster)
        stopped = time.monotonic()
        cluster.stop_compute(cluster.standby)
        burst(20)
        cluster.start_compute(cluster.standby)
        started = time.monotonic()
        while served_by_standby(cluster) <= before:
            assert time.monotonic() - started < 25, "the replica never served again"
            burst(2)
            time.sleep(0.1)
    print(
        f"{len(statuses)} requests, statuses {sorted(set(statuses))}; replica down "
        f"{started - stopped:.1f} s, serving again {time.monotonic() - started:.1f} s after it"
    )
    assert set(statuses) == {200}
    assert before > 0
    for service in services:
        service.stop()
        assert "Traceback" not in service.log, service.log[-3000:]
