"""The asyncio half of `python -m benchmarks.operations` (PostgreSQL): `src.crud.aio` on the
package's asyncio engine against psycopg 3's `AsyncConnection`, the same workload.

Each operation series gets one `AsyncSession` (as the blocking path gets one
`Session`); both sides run on one event loop in alternating blocks. The plan
shown is the blocking path's (the statements are the same text); the
statement count is this path's own, captured from the asyncio engine.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import replace
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.common.measure_async import AsyncCall, time_pair_async
from benchmarks.operations.raw_async import AsyncRawDriver
from benchmarks.operations.report import Result
from benchmarks.operations.workload import Workload
from benchmarks.operations.workload_async import AsyncOperation, async_operations
from src.config.settings import Settings
from src.crud import aio
from src.database.async_connection import build_async_engine, new_async_session

ASYNCIO = "asyncio"


async def _statements(engine: AsyncEngine, call: AsyncCall) -> int:
    """How many statements one call sent (BEGIN and COMMIT not counted)."""
    seen: list[str] = []

    def listener(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        await call(0)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    return sum(s.strip().upper() not in ("BEGIN", "COMMIT") for s in seen)


async def _check(engine: AsyncEngine, raw: AsyncRawDriver, w: Workload) -> None:
    """The raw twin returns the package's rows on this path too, or the floor means nothing."""
    user = w.users[0]
    async with new_async_session(engine) as session:
        pages = {
            "first_page": ((await aio.list_todos(session, user)).items, raw.first_page(user)),
            "deep_keyset_page": (
                (await aio.list_todos(session, user, cursor=w.cursors[0])).items,
                raw.keyset_page(user, w.boundaries[0]),
            ),
        }
        for key, (items, rows) in pages.items():
            if [t.id for t in items] != [r[5] for r in (await rows)[: len(items)]]:
                raise AssertionError(f"asyncio {key}: the package and the raw SQL differ")
    await raw.end()


async def _measure(
    engine: AsyncEngine, raw: AsyncRawDriver, op: AsyncOperation, blocking: Result, sizes: Any
) -> Result:
    if op.kind == "bulk":
        calls = sizes.mixed_reps if op.key == "bulk_create_mixed" else sizes.bulk_reps
        warmup, blocks = (0 if op.key == "bulk_create_mixed" else 1), calls
    else:
        calls, warmup, blocks = sizes.calls, sizes.warmup, 10
    gc.collect()
    async with new_async_session(engine) as session:
        pair = await time_pair_async(
            op.package(session), op.raw, calls=calls, warmup=warmup, blocks=blocks
        )
    await raw.end()
    plan = blocking.plan
    if plan is not None:
        async with new_async_session(engine) as session:
            plan = replace(plan, statements=await _statements(engine, op.package(session)))
    p, q = pair.package, pair.raw
    print(
        f"  {op.key:<18} p50 {p.p50_ms:9.3f} ms  p99 {p.p99_ms:9.3f} ms  "
        f"raw p50 {q.p50_ms:9.3f} ms  ratio {pair.ratio:5.2f}x",
        flush=True,
    )
    return Result(blocking.op, pair, plan, path=ASYNCIO)


async def _run(
    url: URL, w: Workload, blocking: list[Result], sizes: Any, act_as: str | None
) -> list[Result]:
    engine = build_async_engine(Settings(_env_file=None, DATABASE_URL=url))
    raw = await AsyncRawDriver.connect(url)
    raw.act_as_setting = act_as
    try:
        await _check(engine, raw, w)
        by_key = {r.op.key: r for r in blocking}
        print("measuring the asyncio path (src.crud.aio vs psycopg 3 AsyncConnection):")
        return [
            await _measure(engine, raw, op, by_key[op.key], sizes)
            for op in async_operations(w, raw)
        ]
    finally:
        await raw.close()
        await engine.dispose()


def measure_asyncio_path(
    url: URL, w: Workload, blocking: list[Result], sizes: Any, act_as: str | None
) -> list[Result]:
    """Results of the asyncio path, keyed like `blocking` (whose `Operation`s they reuse)."""
    return asyncio.run(_run(url, w, blocking, sizes, act_as))
