"""Read replicas: what reads cost and where they run, with and without `DATABASE_REPLICA_URLS`.

    cd backend && ../.venv/bin/python -m benchmarks.replicas
    cd backend && ../.venv/bin/python -m benchmarks.replicas --delay-ms 2 --rounds 300 \\
        --apply-delay-ms 0 --pooler --json ../benchmark-results/replicas.json

The run starts its own primary and hot standby (`pg_basebackup -R`, the tests'
stand-in), each optionally behind PgBouncer (`--pooler`) and behind a
round-trip proxy that adds `--delay-ms` per round trip (the network to Neon).
Several clients (threads) each repeat a round: one write, then four reads
(get, page, counts, account), every operation a request of its own (a new
session carrying the client's token). Each configuration runs the same rounds:

- `primary only`: no replica configured;
- `replica`: the standby as `DATABASE_REPLICA_URLS`, applying WAL with
  `--apply-delay-ms` of delay (0: as fast as it streams).

Reported per configuration and read kind (`after write`: the first read of a
round, `steady`: the other three): p50/p99 latency, the share the replica
served, and stale reads (a read that missed the round's write; must be 0).
Beside them the naive figure: an UPDATE committed on the primary, then the
row read on the standby at once, with no position and no check. Figures are
printed, never judged.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg2
from sqlalchemy import Engine
from sqlmodel import Session

from benchmarks.common.measure import percentile
from src import crud
from src.database import read_your_writes
from src.database.connection import build_engine
from src.models import TodoCreate, TodoUpdate
from tests.conftest import add_user, settings_for
from tests.standins.replica_local import ReplicatedServer
from tests.standins.round_trip_proxy import RoundTripProxy


class Client(threading.Thread):
    """One client: rounds of a write and four reads, each a request with the client's token."""

    def __init__(self, engine: Engine, user_id: int, rounds: int, naive: Any) -> None:
        super().__init__()
        self.engine, self.user_id, self.rounds, self.naive = engine, user_id, rounds, naive
        self.token: str | None = None
        self.timings: dict[str, list[float]] = {"after write": [], "steady": []}
        self.stale = self.naive_stale = self.naive_todo = 0

    def request(self, kind: str, operation: Any) -> Any:
        started = time.perf_counter()
        with Session(self.engine, expire_on_commit=False) as session:
            read_your_writes.follow(session, self.token)
            result = operation(session)
            self.token = read_your_writes.position_token(session) or self.token
        if kind:
            self.timings[kind].append((time.perf_counter() - started) * 1000)
        return result

    def run(self) -> None:
        user = self.user_id
        todo = self.request("", lambda s: crud.create_todo(s, user, TodoCreate(title="0")))
        naive = self.request("", lambda s: crud.create_todo(s, user, TodoCreate(title="naive")))
        self.naive_todo = int(naive.id or 0)
        for n in range(1, self.rounds + 1):
            self.request(
                "", lambda s, n=n: crud.update_todo(s, user, todo.id, TodoUpdate(title=f"{n}"))
            )
            if self.naive is not None:
                self.naive_stale += self.naive(user, self.naive_todo, f"naive {n}")
            seen = self.request("after write", lambda s: crud.get_todo(s, user, todo.id))
            self.stale += seen.title != f"{n}"
            self.request("steady", lambda s: crud.list_todos(s, user, limit=20))
            self.request("steady", lambda s: crud.count_todos(s, user))
            self.request("steady", lambda s: crud.get_user(s, user))


_NAIVE_WRITE = (
    "SELECT set_config('app.current_user_id', %s, true); UPDATE todo SET title = %s WHERE id = %s"
)
_NAIVE_READ = (
    "SELECT set_config('app.current_user_id', %s, true); SELECT title FROM todo WHERE id = %s"
)


def naive_round(cluster: ReplicatedServer) -> Any:
    """The naive figure: commit an UPDATE on the primary, read the row on the standby at once
    (no position, no check); True if the read missed the write. One pair of connections per
    client thread, the application role with its user named, as the package does."""
    local = threading.local()

    def stale(user_id: int, todo_id: int, title: str) -> bool:
        if not hasattr(local, "cursors"):
            local.cursors = []
            for node in (cluster.primary, cluster.standby):
                dsn = node.url().set(drivername="postgresql").render_as_string(hide_password=False)
                connection = psycopg2.connect(dsn)
                connection.autocommit = True
                local.cursors.append(connection.cursor())
        primary, standby = local.cursors
        primary.execute(_NAIVE_WRITE, (str(user_id), title, todo_id))
        standby.execute(_NAIVE_READ, (str(user_id), todo_id))
        row = standby.fetchone()
        return row is None or row[0] != title

    return stale


def configuration(
    cluster: ReplicatedServer, urls: tuple[Any, Any], args: Any, *, replica: bool
) -> dict[str, Any]:
    primary, standby = urls
    extra = (
        {"DATABASE_REPLICA_URLS": standby.render_as_string(hide_password=False)} if replica else {}
    )
    engine = build_engine(settings_for(primary, DB_POOL_SIZE=args.clients, **extra))
    try:
        with Session(engine, expire_on_commit=False) as session:
            users = [
                add_user(session, f"bench{n}-{replica}@example.com").id for n in range(args.clients)
            ]
        cluster.wait_for_replay()
        naive = naive_round(cluster) if replica else None
        clients = [Client(engine, int(user or 0), args.rounds, naive) for user in users]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        tally = read_your_writes.statistics(engine)
    finally:
        engine.dispose()
    reads = sum(tally.values()) or 1
    figures: dict[str, Any] = {
        "replica share": tally.get("replica", 0) / reads if replica else 0.0,
        "outcomes": tally,
        "stale": sum(c.stale for c in clients),
        "naive stale": sum(c.naive_stale for c in clients) / (args.rounds * args.clients)
        if replica
        else None,
    }
    for kind in ("after write", "steady"):
        samples = sorted(t for c in clients for t in c.timings[kind])
        figures[kind] = {
            "p50_ms": percentile(samples, 50),
            "p99_ms": percentile(samples, 99),
            "reads": len(samples),
        }
    return figures


def run(args: Any) -> dict[str, Any]:
    cluster = ReplicatedServer(max_connections=100)
    cluster.start()
    try:
        cluster.migrate()
        if args.apply_delay_ms:
            cluster.configure_standby(recovery_min_apply_delay=f"{args.apply_delay_ms}ms")
        with ExitStack() as stack:
            urls = []
            for node in (cluster.primary, cluster.standby):
                url = node.url(pooled=args.pooler)
                proxy = stack.enter_context(
                    RoundTripProxy("127.0.0.1", int(url.port or 0), delay_s=args.delay_ms / 1000)
                )
                urls.append(url.set(port=proxy.port))
            return {
                name: configuration(cluster, (urls[0], urls[1]), args, replica=replica)
                for name, replica in (("primary only", False), ("replica", True))
            }
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--rounds", type=int, default=200, help="rounds per client (default 200)")
    parser.add_argument(
        "--delay-ms", type=float, default=0.0, help="added per round trip (default 0)"
    )
    parser.add_argument(
        "--apply-delay-ms", type=int, default=0, help="the standby's recovery_min_apply_delay"
    )
    parser.add_argument(
        "--pooler", action="store_true", help="through PgBouncer (transaction mode)"
    )
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    results = run(args)
    for name, figures in results.items():
        naive = figures["naive stale"]
        print(
            f"{name}: replica share {figures['replica share']:.1%}, stale {figures['stale']}, "
            f"naive stale {'-' if naive is None else format(naive, '.1%')}"
        )
        for kind in ("after write", "steady"):
            row = figures[kind]
            print(
                f"  {kind:<12} p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  "
                f"({row['reads']} reads)"
            )
        print(f"  outcomes {figures['outcomes']}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {"arguments": vars(args) | {"json": str(args.json)}, "results": results}, indent=2
            )
        )
