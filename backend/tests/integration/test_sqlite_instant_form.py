"""Keyset pages walk every row exactly once, in time order, whatever wrote the row.

SQLite compares instants as text, so every stored instant must have one form
(UTC, fixed width, microseconds). Rows come from the package (ORM, bulk), a
Core insert (with instants, or with none: the server default), raw SQL (no
instant, or any spelling of one) and an import (text values through an
untyped table). The pages are checked on every backend; the stored form on
SQLite. What SQLite refuses is in `test_sqlite_instant_rule.py`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, insert, select, text
from sqlmodel import Session, col

from src import crud
from src.crud.statements import TODO_TABLE
from src.models import Todo, TodoCreate, User
from src.models.types import utc_now
from tests.conftest import act_as, uid

AT_TEN = datetime(2026, 12, 1, 10, tzinfo=UTC)
# Spellings of instants as raw SQL and imports write them; six of them are 10:00 UTC exactly.
SPELLINGS = {
    "2026-12-01 10:00:00": AT_TEN,  # CURRENT_TIMESTAMP's form
    "2026-12-01T10:00:00Z": AT_TEN,
    "2026-12-01 12:00:00+02:00": AT_TEN,
    "2026-12-01T05:30-04:30": AT_TEN,
    "2026-12-01 10:00": AT_TEN,
    "2026-12-01 10:00:00.000000": AT_TEN,
    "2026-12-01 10:00:00.5": AT_TEN + timedelta(microseconds=500_000),
    "2026-12-01T09:59:59.999999Z": AT_TEN - timedelta(microseconds=1),
    "2026-12-01 11:00:00.000001+01:00": AT_TEN + timedelta(microseconds=1),
    "2026-11-30T23:59:59-10:00": AT_TEN - timedelta(seconds=1),
}
# Each row's title says how it was written, and so when it must say it was made.
EXACT = {
    **{f"raw {spelling}": instant for spelling, instant in SPELLINGS.items()},
    **{f"import {spelling}": instant for spelling, instant in SPELLINGS.items()},
    "core +02:00": AT_TEN,
    "core UTC": AT_TEN,
}
NOW = ("now: orm", "now: bulk 0", "now: bulk 1", "now: core default", "now: raw default")
STORED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")
ONE_SECOND = timedelta(seconds=1)  # CURRENT_TIMESTAMP keeps whole seconds


def as_owner(session: Session, owner: int) -> None:
    """Name `owner` to PostgreSQL's row security; there, a zone-less spelling means UTC too."""
    act_as(session, owner)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL TimeZone = 'UTC'"))


def write_every_way(session: Session, owner: int) -> None:
    """One todo per way of writing it, titled after it (`EXACT`, `NOW`); committed."""
    crud.create_todo(session, owner, TodoCreate(title="now: orm"))
    crud.create_todos(session, owner, [TodoCreate(title=f"now: bulk {n}") for n in range(2)])
    as_owner(session, owner)
    for title, at in (("core +02:00", AT_TEN.astimezone(timezone(timedelta(hours=2)))),
                      ("core UTC", AT_TEN)):  # fmt: skip
        values = {"user_id": owner, "title": title, "created_at": at, "updated_at": at}
        session.execute(insert(TODO_TABLE).values(values))
    session.execute(insert(TODO_TABLE).values(user_id=owner, title="now: core default"))
    session.execute(
        text("INSERT INTO todo (user_id, title) VALUES (:owner, 'now: raw default')"),
        {"owner": owner},
    )
    for spelling in SPELLINGS:
        session.execute(
            text(
                "INSERT INTO todo (user_id, title, created_at, updated_at)"
                " VALUES (:owner, :title, :at, :at)"
            ),
            {"owner": owner, "title": f"raw {spelling}", "at": spelling},
        )
    untyped = sa.table("todo", sa.column("user_id"), sa.column("title"), sa.column("created_at"))
    rows = [{"user_id": owner, "title": f"import {s}", "created_at": s} for s in SPELLINGS]
    session.execute(insert(untyped), rows)  # as a CSV import sends them: text
    session.commit()


def walk(session: Session, owner: int, *, newest_first: bool, limit: int) -> list[int]:
    """The ids of every page in order; fails as soon as a row comes back a second time."""
    seen: list[int] = []
    cursor = None
    while True:
        page = crud.list_todos(
            session, owner, cursor=cursor, limit=limit, newest_first=newest_first
        )
        for todo in page.items:
            assert todo.id is not None
            assert todo.id not in seen, f"todo {todo.id} came back after {len(seen)} rows"
            seen.append(todo.id)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_pages_walk_every_row_once_in_time_order_whatever_wrote_it(
    session: Session, ann: User
) -> None:
    owner = uid(ann)
    started = utc_now()
    write_every_way(session, owner)
    finished = utc_now()
    as_owner(session, owner)
    found = session.execute(select(col(Todo.id), col(Todo.title), col(Todo.created_at))).all()
    session.commit()
    assert sorted(title for _, title, _ in found) == sorted([*EXACT, *NOW])
    for _, title, created_at in found:
        if title in EXACT:
            assert created_at == EXACT[title], title
        else:
            assert started - ONE_SECOND <= created_at <= finished, title
    in_time_order = [todo_id for todo_id, _, _ in sorted(found, key=lambda r: (r[2], r[0]))]
    for limit in (1, 2, 7):
        assert walk(session, owner, newest_first=False, limit=limit) == in_time_order
        assert walk(session, owner, newest_first=True, limit=limit) == in_time_order[::-1]


def test_on_sqlite_every_stored_instant_has_the_one_form(
    session: Session, ann: User, engine: Engine
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL stores timestamptz, not text")
    write_every_way(session, uid(ann))
    with engine.connect() as connection:
        for table in ("todo", '"user"'):
            rows = connection.execute(text(f"SELECT created_at, updated_at FROM {table}"))
            for created_at, updated_at in rows:
                assert STORED.fullmatch(created_at), created_at
                assert STORED.fullmatch(updated_at), updated_at
        exact = connection.execute(text("SELECT title, created_at FROM todo")).all()
    assert {title: created_at for title, created_at in exact if title in EXACT} == {
        title: instant.replace(tzinfo=None).isoformat(" ", "microseconds")
        for title, instant in EXACT.items()
    }
