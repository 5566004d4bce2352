"""What is measured: each operation as a package call and as its raw-driver twin.

Calls rotate over a sample of users (and over random todos for single-row
operations), so no measurement is of one hot row. Inputs a caller would hold
already (a `TodoUpdate`, the items of a bulk create, a page cursor) are built
beforehand and not timed; everything the package does with them is.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col

from benchmarks.common.measure import Call
from benchmarks.operations.dataset import Dataset, todo_item
from benchmarks.operations.raw import RawDriver
from src import crud
from src.crud.search import like_pattern, search_key
from src.database.connection import new_session
from src.models import Todo, TodoCreate, TodoUpdate
from src.models.row_security import act_as

PAGE = 50
Kind = Literal["list", "read", "write", "bulk"]
# Searches over the loaded todos ("Task <n>", on every other load batch described
# "Details of task <n>: check, fix, ship."): key -> (label, search text).
SEARCHES = {
    "search_page": ("search 'ship', a word of half the todos (not the newest 1,000)", "ship"),
    "search_rare_page": ("search '4242', in one todo of each user", "4242"),
    "search_phrase_page": ("search 'Task 42', a common word and a rare one (111 todos)", "Task 42"),
    "search_absent_page": ("search 'zebra', in no todo", "zebra"),
}
SEARCH_COUNT_TEXT = "ship"


def pattern(search: str) -> str:
    """The LIKE pattern the package binds for `search` (what the raw twin sends)."""
    return like_pattern(search_key(search))


@dataclass(frozen=True, slots=True)
class Workload:
    users: list[int]
    cursors: list[str]  # the package's cursor after `depth` rows, per user
    boundaries: list[tuple[Any, int]]  # the same position as raw (created_at, id)
    targets: list[tuple[int, int]]  # (user_id, todo_id) for single-row operations
    depth: int
    bulk_user: int
    bulk_items: list[TodoCreate]
    mixed_items: list[TodoCreate]


@dataclass(frozen=True, slots=True)
class Operation:
    key: str
    label: str
    kind: Kind
    package: Callable[[Session], Call]  # given the series' session, one package call
    raw: Call


def prepare(engine: Engine, raw: RawDriver, data: Dataset, *, sample: int, depth: int) -> Workload:
    """Pick users and rows, and page down to `depth` with the package to get real cursors."""
    rng = random.Random(20240501)  # noqa: S311  reproducible choice of rows, not security
    users = data.user_ids[:sample]
    cursors = []
    with new_session(engine) as session:
        for user_id in users:
            cursor = None
            for _ in range(depth // PAGE):
                cursor = crud.list_todos(session, user_id, cursor=cursor).next_cursor
            assert cursor is not None
            cursors.append(cursor)
    targets = []
    for user_id in users:
        ids = raw.todo_ids(user_id)
        targets += [(user_id, i) for i in rng.sample(ids, min(len(ids), 1000 // len(users) + 1))]
    rng.shuffle(targets)
    return Workload(
        users=users,
        cursors=cursors,
        boundaries=[raw.boundary(user_id, depth) for user_id in users],
        targets=targets,
        depth=depth,
        bulk_user=data.bulk_user_id,
        bulk_items=[todo_item(n, described=True) for n in range(10_000)],
        mixed_items=[todo_item(n, described=n % 2 == 0) for n in range(10_000)],
    )


def offset_page(session: OrmSession, user_id: int, offset: int) -> list[Todo]:
    """The OFFSET contrast. The package has no offset API on purpose; this is the same ORM
    query with `.offset()` through the same session, naming the user first as the package does."""
    act_as(session, user_id)
    statement = (
        select(Todo)
        .where(col(Todo.user_id) == user_id)
        .order_by(col(Todo.created_at).desc(), col(Todo.id).desc())
        .offset(offset)
        .limit(PAGE + 1)
    )
    return list(session.scalars(statement))


# (key, label, kind, package call given the series' session, raw call): built once for
# both paths, since `src.crud` and `src.crud.aio` share names and arguments, and so do
# the blocking and the asyncio raw drivers; only the OFFSET contrast differs by path.
Spec = tuple[str, str, Kind, Callable[[Any], Callable[[int], Any]], Callable[[int], Any]]


def operation_specs(
    w: Workload, ops: Any, raw: Any, offset: Callable[[Any, int, int], Any]
) -> list[Spec]:
    """Every measured operation: `ops` is `src.crud` or `src.crud.aio`, `raw` its driver twin."""
    n, t = len(w.users), len(w.targets)
    renames = [TodoUpdate(title=f"Renamed task {k}") for k in range(10)]

    def user(i: int) -> int:
        return w.users[i % n]

    def row(i: int) -> tuple[int, int]:
        return w.targets[i % t]

    deep = f"{w.depth:,}"
    return [
        (
            "first_page",
            "first page, 50 newest",
            "list",
            lambda s: lambda i: ops.list_todos(s, user(i)),
            lambda i: raw.first_page(user(i)),
        ),
        (
            "filtered_page",
            "first page, completed=False",
            "list",
            lambda s: lambda i: ops.list_todos(s, user(i), completed=False),
            lambda i: raw.filtered_page(user(i)),
        ),
        (
            "deep_keyset_page",
            f"page after {deep} rows, keyset cursor",
            "list",
            lambda s: lambda i: ops.list_todos(s, user(i), cursor=w.cursors[i % n]),
            lambda i: raw.keyset_page(user(i), w.boundaries[i % n]),
        ),
        (
            "deep_offset_page",
            f"page after {deep} rows, OFFSET (contrast, no package API)",
            "read",
            lambda s: lambda i: offset(s, user(i), w.depth),
            lambda i: raw.offset_page(user(i), w.depth),
        ),
        (
            "count_by_status",
            "count_todos (total/completed/open)",
            "read",
            lambda s: lambda i: ops.count_todos(s, user(i)),
            lambda i: raw.count(user(i)),
        ),
        *[
            (
                key,
                label,
                "list",
                lambda s, text=text: lambda i: ops.list_todos(s, user(i), search=text),
                lambda i, text=text: raw.search_page(user(i), pattern(text)),
            )
            for key, (label, text) in SEARCHES.items()
        ],
        (
            "search_count",
            f"count_todos, search '{SEARCH_COUNT_TEXT}'",
            "read",
            lambda s: lambda i: ops.count_todos(s, user(i), search=SEARCH_COUNT_TEXT),
            lambda i: raw.search_count(user(i), pattern(SEARCH_COUNT_TEXT)),
        ),
        (
            "get_todo",
            "get_todo by id",
            "read",
            lambda s: lambda i: ops.get_todo(s, *row(i)),
            lambda i: raw.get(*row(i)),
        ),
        (
            "update_todo",
            "update_todo (title) + commit",
            "write",
            lambda s: lambda i: ops.update_todo(s, *row(i), renames[i % 10]),
            lambda i: raw.rename(*row(i), f"Renamed task {i % 10}"),
        ),
        (
            "toggle_completed",
            "toggle_completed + commit",
            "write",
            lambda s: lambda i: ops.toggle_completed(s, *row(i)),
            lambda i: raw.toggle(*row(i)),
        ),
        (
            "bulk_create",
            "create_todos, 10,000 todos + commit (all with description)",
            "bulk",
            lambda s: lambda _: ops.create_todos(s, w.bulk_user, w.bulk_items),
            lambda _: raw.bulk_insert(w.bulk_user, w.bulk_items),
        ),
        (
            "bulk_create_mixed",
            "create_todos, 10,000 todos + commit (description on every other todo)",
            "bulk",
            lambda s: lambda _: ops.create_todos(s, w.bulk_user, w.mixed_items),
            lambda _: raw.bulk_insert(w.bulk_user, w.mixed_items),
        ),
    ]


def operations(w: Workload, raw: RawDriver) -> list[Operation]:
    """The blocking path: `src.crud` on a `Session`, next to bare psycopg2 (or sqlite3)."""
    return [Operation(*spec) for spec in operation_specs(w, crud, raw, offset_page)]
