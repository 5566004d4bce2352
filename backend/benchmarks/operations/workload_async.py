"""The asyncio path: each operation through `src.crud.aio` on an `AsyncSession` (psycopg 3),
next to its twin on psycopg 3's `AsyncConnection` (`raw_async.py`).

The same workload as the blocking path (`workload.py`): the same users,
rows, cursors and bulk items, in the same order, under the same keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.common.measure_async import AsyncCall
from benchmarks.operations.raw_async import AsyncRawDriver
from benchmarks.operations.workload import Kind, Workload, offset_page, operation_specs
from src.crud import aio


@dataclass(frozen=True, slots=True)
class AsyncOperation:
    key: str
    kind: Kind
    package: Callable[[AsyncSession], AsyncCall]
    raw: AsyncCall


def async_operations(w: Workload, raw: AsyncRawDriver) -> list[AsyncOperation]:
    """The asyncio path: the blocking path's operations, through `src.crud.aio`."""

    async def offset(s: AsyncSession, user_id: int, depth: int) -> Any:
        return await s.run_sync(offset_page, user_id, depth)

    return [
        AsyncOperation(key, kind, package, raw_call)
        for key, _label, kind, package, raw_call in operation_specs(w, aio, raw, offset)
    ]
