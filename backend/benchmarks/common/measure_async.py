"""Timing on the asyncio path: `measure.time_pair`'s alternating blocks, awaited.

Both sides run on one event loop, in turns, so the loop's own cost per await
weighs on both alike and the ratio is what the package's layers add.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from benchmarks.common.measure import Pair, summarise

AsyncCall = Callable[[int], Awaitable[object]]


async def _timed(call: AsyncCall, indexes: range, into: list[int]) -> None:
    clock = time.perf_counter_ns
    for i in indexes:
        started = clock()
        await call(i)
        into.append(clock() - started)


async def time_pair_async(
    package: AsyncCall, raw: AsyncCall, *, calls: int, warmup: int, blocks: int = 10
) -> Pair:
    """Warm both sides up, then time `calls` awaited calls of each in alternating blocks."""
    for i in range(warmup):
        await package(i)
        await raw(i)
    size = max(1, calls // blocks)
    package_ns: list[int] = []
    raw_ns: list[int] = []
    for start in range(0, calls, size):
        indexes = range(warmup + start, warmup + min(start + size, calls))
        await _timed(package, indexes, package_ns)
        await _timed(raw, indexes, raw_ns)
    return Pair(summarise(package_ns), summarise(raw_ns))
