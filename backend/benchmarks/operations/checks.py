"""Sanity checks before timing: the raw twin really is the package's query.

A floor means nothing if the raw SQL returns other rows than the package, so
each page and the counts are compared once, and the deep keyset page must be
the very page OFFSET reaches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from benchmarks.operations.raw import RawDriver
from benchmarks.operations.workload import (
    PAGE,
    SEARCH_COUNT_TEXT,
    SEARCHES,
    Workload,
    offset_page,
    pattern,
)
from src import crud
from src.database.connection import new_session


def check_equivalence(engine: Engine, raw: RawDriver, w: Workload) -> None:
    """The raw twin must return the same rows as the package, or the floor means nothing;
    and the deep keyset page must be the very page OFFSET finds. Each call gets a fresh
    session and transaction, as in the measurement, so no setting carries over."""
    user, cursor, boundary = w.users[0], w.cursors[0], w.boundaries[0]

    def fresh(call: Callable[[Session], Any]) -> Any:
        with new_session(engine) as session:
            return call(session)

    pages = {
        "first_page": (fresh(lambda s: crud.list_todos(s, user).items), raw.first_page(user)),
        "filtered_page": (
            fresh(lambda s: crud.list_todos(s, user, completed=False).items),
            raw.filtered_page(user),
        ),
        "deep_keyset_page": (
            fresh(lambda s: crud.list_todos(s, user, cursor=cursor).items),
            raw.keyset_page(user, boundary),
        ),
        "deep_offset_page": (
            fresh(lambda s: offset_page(s, user, w.depth)[:PAGE]),
            raw.offset_page(user, w.depth),
        ),
    }
    for key, (_label, text) in SEARCHES.items():
        with new_session(engine) as session:
            found = crud.list_todos(session, user, search=text).items
        pages[key] = (found, raw.search_page(user, pattern(text)))
    counts = fresh(lambda s: crud.count_todos(s, user))
    raw_counts: dict[Any, int] = dict(raw.count(user))
    searched = fresh(lambda s: crud.count_todos(s, user, search=SEARCH_COUNT_TEXT))
    raw_searched: dict[Any, int] = dict(raw.search_count(user, pattern(SEARCH_COUNT_TEXT)))
    raw.end()
    for key, (items, rows) in pages.items():
        if [t.id for t in items] != [r[5] for r in rows[:PAGE]]:
            raise AssertionError(f"{key}: the package and the raw SQL return different rows")
        if not rows and key not in SEARCHES:  # a small data set may hold no rare text
            raise AssertionError(f"{key}: no rows, so nothing would be measured")
    if (searched.completed, searched.open) != (
        raw_searched.get(True, 0),
        raw_searched.get(False, 0),
    ):
        raise AssertionError("search_count: the package and the raw SQL disagree")
    if pages["deep_keyset_page"][1] != pages["deep_offset_page"][1]:
        raise AssertionError("the keyset cursor and OFFSET do not reach the same page")
    if (counts.completed, counts.open) != (raw_counts.get(True, 0), raw_counts.get(False, 0)):
        raise AssertionError("count_by_status: the package and the raw SQL disagree")
