"""psycopg 3 against asyncpg on the asyncio path: correctness behind a pooler, latency, CPU.

    cd backend && ../.venv/bin/python -m benchmarks.experiments.async_drivers [--requests 400]

Starts the Neon-like stand-in (TLS-only PostgreSQL and PgBouncer 1.18 in
transaction mode, `tests/standins/neon_local.py`), then runs the same "request" (a
transaction with an INSERT and two SELECTs, twice) through each driver with 20
concurrent tasks, once straight to PostgreSQL and once through PgBouncer with
no pooler hint. Prints requests that failed (by error), median and p95 latency
and the process CPU time per request, side by side in one run. asyncpg is no
longer a dependency: install it next to the package to include it
(`pip install asyncpg==0.32.0`). Both routes run twice; read the second round
(warm server and page cache). research.md, section 15, records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.standins.neon_local import NeonLikeServer

CONCURRENCY = 20
INSERT = text("INSERT INTO bench_item (n) VALUES (:n) RETURNING id")
COUNT = text("SELECT count(*) FROM bench_item WHERE n = :n")
READ = text("SELECT id, n FROM bench_item WHERE id = :id")

DRIVERS: dict[str, tuple[str, dict[str, Any]]] = {
    "psycopg 3, prepare_threshold=None (the package)": (
        "postgresql+psycopg",
        {"prepare_threshold": None},
    ),
    "psycopg 3, default prepare_threshold=5": ("postgresql+psycopg", {}),
    "asyncpg, no pooler hint": ("postgresql+asyncpg", {}),
    "asyncpg, caches off (the package before)": (
        "postgresql+asyncpg",
        {
            "statement_cache_size": 0,
            "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__",
        },
    ),
}


def engine_for(url: URL, driver: str, connect_args: dict[str, Any]) -> AsyncEngine:
    if driver.endswith("asyncpg"):  # asyncpg reads no libpq parameter
        caches_off = "statement_cache_size" in connect_args
        url = url.set(query={"prepared_statement_cache_size": "0"} if caches_off else {})
        connect_args = {**connect_args, "ssl": "require"}
    return create_async_engine(
        url.set(drivername=driver), pool_size=CONCURRENCY, connect_args=connect_args
    )


async def one_request(engine: AsyncEngine, n: int) -> None:
    async with engine.begin() as connection:
        for _ in range(2):
            new_id = (await connection.execute(INSERT, {"n": n})).scalar_one()
            await connection.execute(COUNT, {"n": n})
            await connection.execute(READ, {"id": new_id})


async def run(engine: AsyncEngine, requests: int) -> tuple[list[float], Counter[str], float]:
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    queue = iter(range(requests))

    async def worker() -> None:
        for n in queue:
            started = time.perf_counter()
            try:
                await one_request(engine, n)
                latencies.append((time.perf_counter() - started) * 1000)
            except Exception as exc:
                failures[f"{type(exc).__name__}: {str(exc).splitlines()[0][:70]}"] += 1

    await one_request(engine, -1)  # warm the pool's first connection
    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return latencies, failures, time.process_time() - cpu


async def main(requests: int) -> None:
    server = NeonLikeServer()
    try:
        server.start()
        setup = create_async_engine(server.direct_url().set(drivername="postgresql+psycopg"))
        async with setup.begin() as connection:
            await connection.execute(text("CREATE TABLE bench_item (id serial PRIMARY KEY, n int)"))
        await setup.dispose()
        print(f"{requests} requests, {CONCURRENCY} concurrent, each 2 x (INSERT, 2 SELECT)")
        header = f"{'route':8} {'driver':48} {'failed':>6} {'p50 ms':>7} {'p95 ms':>7}"
        print(f"{header} {'CPU ms/req':>10}")
        routes = (("direct", server.direct_url()), ("pooler", server.pooler_url()))
        for route, url in [*routes, *routes]:  # twice: the second round is the warm one
            for name, (driver, connect_args) in DRIVERS.items():
                try:
                    engine = engine_for(url, driver, connect_args)
                except ImportError:
                    print(f"{route:8} {name:48} (not installed)")
                    continue
                try:
                    latencies, failures, cpu_s = await run(engine, requests)
                except Exception as exc:
                    latencies, failures, cpu_s = [], Counter({type(exc).__name__: requests}), 0
                finally:
                    await engine.dispose()
                p50 = statistics.median(latencies) if latencies else float("nan")
                p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else p50
                per_request = cpu_s * 1000 / max(len(latencies), 1)
                print(
                    f"{route:8} {name:48} {sum(failures.values()):6d} {p50:7.2f} {p95:7.2f} "
                    f"{per_request:10.2f}"
                )
                for failure, count in failures.most_common(2):
                    print(f"{'':8}   {count} x {failure}")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    asyncio.run(main(parser.parse_args().requests))
