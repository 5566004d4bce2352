"""How often the engine opens a new connection under a FastAPI-like thread pool.

    cd backend && ../.venv/bin/python -m benchmarks.experiments.pool_churn \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres

FastAPI runs `def` endpoints in a pool of 40 threads. Each simulated request
here is one thread taking a session, reading a page of one user's todos and
toggling one todo (two transactions, as an endpoint pair would), with a
short pause between requests. For each pool configuration the run counts the
engine's new connections (each one, behind Neon's pooler, a TLS handshake and
a SCRAM login) per 1,000 requests after a warm-up, and the requests per
second. Figures are printed, never judged.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, event

from benchmarks.common.database import application_role, bench_database
from src import crud
from src.config.settings import Settings
from src.database.connection import build_engine, create_db_and_tables, new_session
from src.models import TodoCreate, User

CONFIGS = [(5, 5), (10, 0), (10, 10), (20, 0), (40, 0)]  # (DB_POOL_SIZE, DB_MAX_OVERFLOW)
THREADS = 40


def _engine(url: Any, size: int, overflow: int) -> Engine:
    return build_engine(
        Settings(_env_file=None, DATABASE_URL=url, DB_POOL_SIZE=size, DB_MAX_OVERFLOW=overflow)
    )


def _seed(engine: Engine, users: int) -> list[tuple[int, int]]:
    """One todo per user; returns (user_id, todo_id) pairs."""
    pairs = []
    with new_session(engine) as session:
        for n in range(users):
            user = User.model_validate(
                {
                    "email": f"churn{n}@example.com",
                    "hashed_password": "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
                }
            )
            session.add(user)
            session.commit()
            assert user.id is not None
            todo = crud.create_todo(session, user.id, TodoCreate(title="churn"))
            assert todo.id is not None
            pairs.append((user.id, todo.id))
    return pairs


def measure(engine: Engine, pairs: list[tuple[int, int]], requests: int) -> tuple[float, float]:
    """(new connections per 1,000 requests, requests per second) after a warm-up."""
    opened = [0]
    lock = threading.Lock()

    @event.listens_for(engine, "connect")
    def _count(*_: Any) -> None:
        with lock:
            opened[0] += 1

    def request(i: int) -> None:
        user_id, todo_id = pairs[i % len(pairs)]
        with new_session(engine) as session:
            crud.list_todos(session, user_id, limit=20)
        with new_session(engine) as session:
            crud.toggle_completed(session, user_id, todo_id)
        time.sleep(random.uniform(0, 0.004))  # noqa: S311  think time, not security

    with ThreadPoolExecutor(THREADS) as threads:
        list(threads.map(request, range(requests // 5)))  # warm-up: fill the pool
        opened[0] = 0
        started = time.perf_counter()
        list(threads.map(request, range(requests)))
        elapsed = time.perf_counter() - started
    return opened[0] * 1000 / requests, requests / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.experiments.pool_churn")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--database-name", default="todo_bench_churn")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("pass --database-url (a PostgreSQL server)")
    with bench_database(args.database_url, args.database_name) as owner_url:
        owner = build_engine(Settings(_env_file=None, DATABASE_URL=owner_url))
        create_db_and_tables(owner)
        owner.dispose()
        with application_role(owner_url, f"{args.database_name}_app") as url:
            seeding = build_engine(Settings(_env_file=None, DATABASE_URL=url))
            pairs = _seed(seeding, 50)
            seeding.dispose()
            results: dict[tuple[int, int], list[tuple[float, float]]] = {c: [] for c in CONFIGS}
            for _ in range(args.rounds):  # configurations alternate, so noise hits them alike
                for size, overflow in CONFIGS:
                    engine = _engine(url, size, overflow)
                    try:
                        results[(size, overflow)].append(measure(engine, pairs, args.requests))
                    finally:
                        engine.dispose()
    print(f"{THREADS} threads, {args.requests:,} requests per run, {args.rounds} runs each")
    print("| DB_POOL_SIZE | DB_MAX_OVERFLOW | new connections per 1,000 requests | requests/s |")
    print("|--:|--:|--:|--:|")
    for (size, overflow), runs in results.items():
        churn = statistics.median(r[0] for r in runs)
        rate = statistics.median(r[1] for r in runs)
        print(f"| {size} | {overflow} | {churn:.1f} | {rate:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
