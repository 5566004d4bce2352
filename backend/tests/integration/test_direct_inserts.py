"""Rows loaded outside the operations, as README and quickstart show (`examples/import_rows.py`).

On PostgreSQL the engine connects as the least-privilege application role,
with row security forced, exactly what an import job would run as.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlmodel import Session

from examples.import_rows import import_todos
from src import crud
from src.models import Todo
from tests.conftest import add_user, uid

EXPORTED_AT = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def test_imported_rows_belong_to_their_user_and_keep_their_instants(
    engine: Engine, session: Session
) -> None:
    ann, bob = uid(add_user(session, "ann@example.com")), uid(add_user(session, "bob@example.com"))
    rows = [
        (
            f"imported {i}",
            "from the old app" if i % 2 else None,
            i % 3 == 0,
            EXPORTED_AT + timedelta(minutes=i),
        )
        for i in range(5)
    ]
    assert import_todos(engine, ann, rows) == 5
    assert import_todos(engine, bob, rows[:2]) == 2
    page = crud.list_todos(session, ann, newest_first=False)
    assert [todo.title for todo in page.items] == [row[0] for row in rows]
    assert [todo.created_at for todo in page.items] == [row[3] for row in rows]
    assert crud.count_todos(session, ann).completed == 2
    assert crud.count_todos(session, bob).total == 2  # each user's rows, named to each


def test_an_import_refuses_what_the_api_refuses_and_leaves_nothing_half_loaded(
    engine: Engine, session: Session
) -> None:
    ann = uid(add_user(session, "ann@example.com"))
    good = ("fine", None, False, EXPORTED_AT)
    with pytest.raises(ValidationError, match="title"):
        import_todos(engine, ann, [good, ("   ", None, False, EXPORTED_AT)])
    with pytest.raises(IntegrityError):  # a todo for a user that does not exist
        import_todos(engine, ann + 1000, [good])
    assert crud.count_todos(session, ann).total == 0


def test_without_naming_the_user_postgresql_refuses_the_rows(
    backend: str, engine: Engine, session: Session
) -> None:
    """Why the example names the user: row security is forced, the owner's role included."""
    if backend == "sqlite":
        pytest.skip("SQLite has no row security")
    ann = uid(add_user(session, "ann@example.com"))
    row = {"user_id": ann, "title": "unnamed", "completed": False}
    with Session(engine) as raw, pytest.raises(ProgrammingError, match="row-level security"):
        raw.execute(insert(Todo), [row])
    assert crud.count_todos(session, ann).total == 0
