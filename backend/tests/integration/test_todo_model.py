"""The `todo` table's rules hold on both backends, through the ORM and in raw SQL.

Row security on PostgreSQL admits a todo only for the user named by
`act_as`, so each write here first names its owner, as the operations do.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlmodel import Session

from src.models import Todo, User
from tests.conftest import act_as, uid


def _insert_raw(session: Session, user_id: int | None, title: str | None, **extra: object) -> None:
    act_as(session, user_id or 1)
    columns = ", ".join(["user_id", "title", *extra])
    values = ", ".join([":user_id", ":title", *(f":{k}" for k in extra)])
    session.execute(
        text(f"INSERT INTO todo ({columns}) VALUES ({values})"),
        {"user_id": user_id, "title": title, **extra},
    )


def _todo_count(session: Session, owner: User) -> int:
    act_as(session, owner.id)
    statement = select(func.count()).select_from(Todo).where(Todo.user_id == owner.id)  # type: ignore[arg-type]
    return session.scalar(statement) or 0


def test_a_todo_gets_defaults_for_completed_and_timestamps(session: Session, ann: User) -> None:
    _insert_raw(session, ann.id, "raw insert")
    row = session.execute(text("SELECT completed, created_at, updated_at FROM todo")).one()
    assert row.completed in (False, 0)
    assert row.created_at is not None
    assert row.updated_at is not None


def test_a_todo_needs_an_existing_user(session: Session) -> None:
    with pytest.raises(IntegrityError):
        _insert_raw(session, 987654, "orphan")


@pytest.mark.parametrize("missing", ["user_id", "title"])
def test_user_id_and_title_are_not_null(session: Session, ann: User, missing: str) -> None:
    values = {"user_id": ann.id, "title": "t", missing: None}
    # On PostgreSQL row security checks a row before NOT NULL does: a NULL owner
    # is refused as "violates row-level security policy" (a ProgrammingError).
    with pytest.raises((IntegrityError, ProgrammingError)):
        _insert_raw(session, values["user_id"], values["title"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("title", "constraint"),
    [
        ("   ", "title_not_blank"),
        ("\t\n \r", "title_not_blank"),
        ("\f\v", "title_not_blank"),
        ("x" * 256, "title_length"),
    ],
)
def test_raw_sql_cannot_store_a_blank_or_overlong_title(
    session: Session, ann: User, title: str, constraint: str
) -> None:
    # PostgreSQL's VARCHAR(255) may refuse first; SQLite relies on the CHECK alone.
    with pytest.raises(Exception, match=rf"{constraint}|too long") as caught:
        _insert_raw(session, ann.id, title)
    assert caught.type.__name__ in {"IntegrityError", "DataError"}


def test_raw_sql_cannot_store_an_overlong_description(session: Session, ann: User) -> None:
    with pytest.raises(Exception, match=r"description_length|too long"):
        _insert_raw(session, ann.id, "t", description="d" * 2001)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "t" * 256}, "title"),
        ({"title": "nul\x00"}, "title"),
        ({"title": "t", "description": "d" * 2001}, "description"),
        ({"title": "t", "completed": "yes"}, "completed"),
    ],
)
def test_orm_refuses_invalid_todos_before_any_sql(
    session: Session, ann: User, fields: dict[str, Any], field: str
) -> None:
    act_as(session, ann.id)
    session.add(Todo(**{"user_id": ann.id, **fields}))
    with pytest.raises(ValidationError) as caught:
        session.flush()
    assert caught.value.errors()[0]["loc"] == (field,)
    session.rollback()
    assert _todo_count(session, ann) == 0


def test_orm_stores_the_stripped_title(session: Session, ann: User) -> None:
    todo = Todo(user_id=uid(ann), title="  padded  ")
    act_as(session, ann.id)
    session.add(todo)
    session.commit()
    session.expire_all()
    act_as(session, ann.id)
    assert session.get(Todo, todo.id).title == "padded"  # type: ignore[union-attr]


def test_deleting_a_user_deletes_their_todos(session: Session, ann: User, bob: User) -> None:
    for owner, titles in ((ann, ["a1", "a2"]), (bob, ["b1"])):
        act_as(session, owner.id)
        session.add_all([Todo(user_id=uid(owner), title=title) for title in titles])
        session.commit()
    session.execute(delete(User).where(User.id == ann.id))  # type: ignore[arg-type]
    session.commit()
    assert _todo_count(session, ann) == 0
    assert _todo_count(session, bob) == 1


def test_updated_at_moves_when_a_todo_changes(session: Session, ann: User) -> None:
    todo = Todo(user_id=uid(ann), title="t")
    act_as(session, ann.id)
    session.add(todo)
    session.commit()
    before = todo.updated_at
    todo.completed = True
    act_as(session, ann.id)
    session.commit()
    assert todo.updated_at > before
