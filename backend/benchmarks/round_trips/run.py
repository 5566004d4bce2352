"""Round-trip benchmark: how many times a request waits on the network, per operation.

    cd backend && ../.venv/bin/python -m benchmarks.round_trips
    cd backend && ../.venv/bin/python -m benchmarks.round_trips --delay-ms 10 --calls 30 \\
        --json ../benchmark-results/round_trips.json

On Neon the network between service and database is what users feel. The run
makes its own database on the PostgreSQL server (`--database-url`, default the
local one), connects as a plain role (row security on), and puts its own TCP
proxy in front (`tests.standins.round_trip_proxy`). Each operation runs as a FastAPI
request runs it: a new session on a warm pooled connection, the operation,
the session closed. For each it reports

- `counted`: round trips counted by the proxy (the client sends, then waits),
- `delayed`: (median with `--delay-ms` added per round trip - median without)
  / delay, what a longer network makes of it,

on the blocking path, the asyncio path, and for a peer-style SQLModel app
(`session.get`, attribute set, commit, refresh; no row security) beside them.
The physical limit is 1. Figures are printed, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Session, col
from sqlmodel.ext.asyncio.session import AsyncSession

from benchmarks.common.database import application_role, bench_database
from src import crud
from src.crud import aio
from src.database.async_connection import build_async_engine
from src.database.connection import build_engine
from src.database.migrations import upgrade_to_head
from src.models import Todo, TodoCreate, TodoUpdate, UserCreate
from tests.conftest import settings_for
from tests.standins.round_trip_proxy import RoundTripProxy

PASSWORD = SecretStr("round trip password")
EMAIL = "round-trips@example.com"
Blocking = Callable[[Session, int, int], object]
Async = Callable[[AsyncSession, int, int], Awaitable[object]]

BLOCKING: dict[str, Blocking] = {
    "get": crud.get_todo,
    "list page": lambda s, u, _t: crud.list_todos(s, u, limit=20),
    "count": lambda s, u, _t: crud.count_todos(s, u),
    "update": lambda s, u, t: crud.update_todo(s, u, t, TodoUpdate(title="renamed")),
    "toggle": crud.toggle_completed,
    "create": lambda s, u, _t: crud.create_todo(s, u, TodoCreate(title="new")),
    "get user": lambda s, u, _t: crud.get_user(s, u),
    "login": lambda s, _u, _t: crud.authenticate(s, EMAIL, PASSWORD),
}
ASYNC: dict[str, Async] = {
    "get": aio.get_todo,
    "list page": lambda s, u, _t: aio.list_todos(s, u, limit=20),
    "count": lambda s, u, _t: aio.count_todos(s, u),
    "update": lambda s, u, t: aio.update_todo(s, u, t, TodoUpdate(title="renamed")),
    "toggle": aio.toggle_completed,
    "create": lambda s, u, _t: aio.create_todo(s, u, TodoCreate(title="new")),
    "get user": lambda s, u, _t: aio.get_user(s, u),
    "login": lambda s, _u, _t: aio.authenticate(s, EMAIL, PASSWORD),
}


def _peer_get(session: Session, user_id: int, todo_id: int) -> Todo:
    todo = session.get(Todo, todo_id)
    assert todo is not None
    assert todo.user_id == user_id
    return todo


def _peer_update(session: Session, user_id: int, todo_id: int) -> Todo:
    todo = _peer_get(session, user_id, todo_id)
    todo.title = "renamed by the peer"
    session.add(todo)
    session.commit()
    session.refresh(todo)
    return todo


def _peer_create(session: Session, user_id: int, _todo_id: int) -> Todo:
    todo = Todo(user_id=user_id, title="new by the peer")
    session.add(todo)
    session.commit()
    session.refresh(todo)
    return todo


# The peer's way, as in public SQLModel apps (benchmarks/service/peer.py); it needs a
# role that skips row security, so it runs as the database's owner.
PEER: dict[str, Blocking] = {
    "get": _peer_get,
    "list page": lambda s, u, _t: list(
        s.exec(select(Todo).where(col(Todo.user_id) == u).offset(0).limit(20))  # type: ignore[call-overload]
    ),
    "count": lambda s, u, _t: s.exec(
        select(func.count()).select_from(Todo).where(col(Todo.user_id) == u)  # type: ignore[call-overload]
    ).one(),
    "update": _peer_update,
    "create": _peer_create,
}


def measure_blocking(
    engine: Engine,
    proxy: RoundTripProxy,
    operations: dict[str, Blocking],
    ids: tuple[int, int],
    calls: int,
) -> dict[str, tuple[int, float]]:
    """Per operation: (round trips counted, median ms), each call a request of its own."""
    figures: dict[str, tuple[int, float]] = {}
    for name, operation in operations.items():
        with Session(engine) as session:  # warm: the pool holds a connection
            operation(session, *ids)
        timings, counted = [], 0
        for _ in range(calls):
            with proxy.counting() as exchanges:
                started = time.perf_counter()
                with Session(engine) as session:
                    operation(session, *ids)
                timings.append(time.perf_counter() - started)
            counted = exchanges[0]
        figures[name] = (counted, statistics.median(timings) * 1000)
    return figures


async def measure_async(
    engine: AsyncEngine, proxy: RoundTripProxy, ids: tuple[int, int], calls: int
) -> dict[str, tuple[int, float]]:
    figures: dict[str, tuple[int, float]] = {}
    for name, operation in ASYNC.items():
        async with AsyncSession(engine) as session:
            await operation(session, *ids)
        timings, counted = [], 0
        for _ in range(calls):
            with proxy.counting() as exchanges:
                started = time.perf_counter()
                async with AsyncSession(engine) as session:
                    await operation(session, *ids)
                timings.append(time.perf_counter() - started)
            counted = exchanges[0]
        figures[name] = (counted, statistics.median(timings) * 1000)
    return figures


def _seed(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        user = crud.create_user(session, UserCreate(email=EMAIL, password=PASSWORD))
        assert user.id is not None
        crud.create_todos(session, user.id, [TodoCreate(title=f"todo {i}") for i in range(200)])
        todo = crud.create_todo(session, user.id, TodoCreate(title="measured"))
        assert todo.id is not None
        return user.id, todo.id


def run(server_url: str, delay_ms: float, calls: int) -> dict[str, dict[str, dict[str, float]]]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    with bench_database(server_url, "todo_bench_round_trips") as owner:
        migrate = build_engine(settings_for(owner))
        upgrade_to_head(migrate)
        migrate.dispose()
        with application_role(owner, "todo_bench_round_trips_app") as app:
            assert app.host is not None
            assert app.port is not None
            for delay in (0.0, delay_ms / 1000):
                with RoundTripProxy(app.host, app.port, delay_s=delay) as proxy:
                    sides = _measure_sides(
                        app.set(port=proxy.port), owner.set(port=proxy.port), proxy, calls
                    )
                for side, figures in sides.items():
                    for name, (counted, median_ms) in figures.items():
                        row = results.setdefault(side, {}).setdefault(name, {})
                        row["counted"] = counted
                        row["median_ms" if delay == 0 else "delayed_median_ms"] = median_ms
    for rows in results.values():
        for row in rows.values():
            row["delayed"] = (row["delayed_median_ms"] - row["median_ms"]) / delay_ms
    return results


def _measure_sides(
    app_url: Any, owner_url: Any, proxy: RoundTripProxy, calls: int
) -> dict[str, dict[str, tuple[int, float]]]:
    engine = build_engine(settings_for(app_url))
    try:
        ids = _seed(engine)
        sides = {"package, blocking": measure_blocking(engine, proxy, BLOCKING, ids, calls)}

        async def on_loop() -> dict[str, tuple[int, float]]:
            async_engine = build_async_engine(settings_for(app_url))
            try:
                return await measure_async(async_engine, proxy, ids, calls)
            finally:
                await async_engine.dispose()

        sides["package, asyncio"] = asyncio.run(on_loop())
        peer = build_engine(settings_for(owner_url))  # the owner: row security not in its way
        try:
            sides["peer-style SQLModel"] = measure_blocking(peer, proxy, PEER, ids, calls)
        finally:
            peer.dispose()
        with Session(engine) as session:
            crud.delete_user(session, ids[0])
        return sides
    finally:
        engine.dispose()


def table(results: dict[str, dict[str, dict[str, float]]], delay_ms: float) -> str:
    names = list(BLOCKING)
    lines = [
        f"round trips per request (counted by the proxy / from a {delay_ms:g} ms delay)",
        "| | " + " | ".join(names) + " |",
        "|---|" + "--:|" * len(names),
    ]
    for side, rows in results.items():
        cells = [
            f"{rows[n]['counted']:.0f} / {rows[n]['delayed']:.1f}" if n in rows else "—"
            for n in names
        ]
        lines.append(f"| {side} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.round_trips", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = run(args.database_url, args.delay_ms, args.calls)
    print(table(results, args.delay_ms))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
