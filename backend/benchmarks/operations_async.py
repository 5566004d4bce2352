"""The asyncio path: each operation through `src.crud.aio` on an `AsyncSession` (psycopg 3),
next to its twin on psycopg 3's `AsyncConnection` (`raw_async.py`).

The same workload as the blocking path (`operations.py`): the same users,
rows, cursors and bulk items, in the same order, under the same keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.measure_async import AsyncCall
from benchmarks.operations import Kind, Workload, offset_page
from benchmarks.raw_async import AsyncRawDriver
from src.crud import aio
from src.models import TodoUpdate


@dataclass(frozen=True, slots=True)
class AsyncOperation:
    key: str
    kind: Kind
    package: Callable[[AsyncSession], AsyncCall]
    raw: AsyncCall


def async_operations(w: Workload, raw: AsyncRawDriver) -> list[AsyncOperation]:
    n, t = len(w.users), len(w.targets)
    renames = [TodoUpdate(title=f"Renamed task {k}") for k in range(10)]

    def user(i: int) -> int:
        return w.users[i % n]

    def row(i: int) -> tuple[int, int]:
        return w.targets[i % t]

    async def offset(s: AsyncSession, user_id: int) -> Any:
        return await s.run_sync(offset_page, user_id, w.depth)

    return [
        AsyncOperation(
            "first_page",
            "list",
            lambda s: lambda i: aio.list_todos(s, user(i)),
            lambda i: raw.first_page(user(i)),
        ),
        AsyncOperation(
            "filtered_page",
            "list",
            lambda s: lambda i: aio.list_todos(s, user(i), completed=False),
            lambda i: raw.filtered_page(user(i)),
        ),
        AsyncOperation(
            "deep_keyset_page",
            "list",
            lambda s: lambda i: aio.list_todos(s, user(i), cursor=w.cursors[i % n]),
            lambda i: raw.keyset_page(user(i), w.boundaries[i % n]),
        ),
        AsyncOperation(
            "deep_offset_page",
            "read",
            lambda s: lambda i: offset(s, user(i)),
            lambda i: raw.offset_page(user(i), w.depth),
        ),
        AsyncOperation(
            "count_by_status",
            "read",
            lambda s: lambda i: aio.count_todos(s, user(i)),
            lambda i: raw.count(user(i)),
        ),
        AsyncOperation(
            "get_todo",
            "read",
            lambda s: lambda i: aio.get_todo(s, *row(i)),
            lambda i: raw.get(*row(i)),
        ),
        AsyncOperation(
            "update_todo",
            "write",
            lambda s: lambda i: aio.update_todo(s, *row(i), renames[i % 10]),
            lambda i: raw.rename(*row(i), f"Renamed task {i % 10}"),
        ),
        AsyncOperation(
            "toggle_completed",
            "write",
            lambda s: lambda i: aio.toggle_completed(s, *row(i)),
            lambda i: raw.toggle(*row(i)),
        ),
        AsyncOperation(
            "bulk_create",
            "bulk",
            lambda s: lambda _: aio.create_todos(s, w.bulk_user, w.bulk_items),
            lambda _: raw.bulk_insert(w.bulk_user, w.bulk_items),
        ),
        AsyncOperation(
            "bulk_create_mixed",
            "bulk",
            lambda s: lambda _: aio.create_todos(s, w.bulk_user, w.mixed_items),
            lambda _: raw.bulk_insert(w.bulk_user, w.mixed_items),
        ),
    ]
