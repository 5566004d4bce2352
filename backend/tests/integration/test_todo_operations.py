"""Todo operations on both backends: each sees only its caller's rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import Session

from src import crud
from src.crud.pagination import Position, encode_cursor
from src.errors import (
    InvalidCursorError,
    TodoNotFoundError,
    UserNotFoundError,
)
from src.models import Todo, TodoCreate, TodoUpdate, User
from tests.conftest import table_snapshot, tid, uid

# The argument-rule tests below pass wrong types on purpose; the checker must let them.
unchecked: Any = crud


def make_todos(session: Session, user: User, count: int, **fields: object) -> list[Todo]:
    return [
        crud.create_todo(session, uid(user), TodoCreate(title=f"todo {i}", **fields))  # type: ignore[arg-type]
        for i in range(count)
    ]


def all_pages(session: Session, user: User, **options: object) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        page = crud.list_todos(session, uid(user), cursor=cursor, **options)  # type: ignore[arg-type]
        pages.append([tid(t) for t in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_create_todo_validates_and_stores(session: Session, ann: User) -> None:
    todo = crud.create_todo(session, uid(ann), TodoCreate(title="  Buy milk ", description="2 l"))
    assert (todo.title, todo.description, todo.completed, todo.user_id) == (
        "Buy milk",
        "2 l",
        False,
        ann.id,
    )
    assert crud.get_todo(session, uid(ann), tid(todo)) == todo


def test_create_todo_for_a_missing_user_raises_and_writes_nothing(session: Session) -> None:
    before = table_snapshot(session)
    with pytest.raises(UserNotFoundError, match="user 77 not found"):
        crud.create_todo(session, 77, TodoCreate(title="t"))
    assert table_snapshot(session) == before


def test_bulk_create_inserts_all_items(session: Session, ann: User) -> None:
    created = crud.create_todos(
        session, uid(ann), [TodoCreate(title=f"t{i}", completed=i % 3 == 0) for i in range(500)]
    )
    assert created == 500
    assert crud.count_todos(session, uid(ann)) == crud.TodoCounts(
        total=500, completed=167, open=333
    )


def test_bulk_create_is_all_or_nothing_and_names_the_bad_item(session: Session, ann: User) -> None:
    before = table_snapshot(session)
    items = [{"title": "fine"}, {"title": "   "}, {"title": "also fine"}]
    with pytest.raises(ValidationError) as caught:
        crud.create_todos(session, uid(ann), items)  # type: ignore[arg-type]
    assert caught.value.errors()[0]["loc"][:3] == ("items", 1, "title")
    assert table_snapshot(session) == before


def test_bulk_create_for_a_missing_user_writes_nothing(session: Session) -> None:
    before = table_snapshot(session)
    with pytest.raises(UserNotFoundError):
        crud.create_todos(session, 31337, [TodoCreate(title="a"), TodoCreate(title="b")])
    assert table_snapshot(session) == before


def test_update_changes_only_the_fields_sent(session: Session, ann: User) -> None:
    todo = crud.create_todo(session, uid(ann), TodoCreate(title="t", description="keep me"))
    updated = crud.update_todo(session, uid(ann), tid(todo), TodoUpdate(title="new"))
    assert (updated.title, updated.description, updated.completed) == ("new", "keep me", False)
    assert updated.updated_at > todo.created_at
    cleared = crud.update_todo(session, uid(ann), tid(todo), TodoUpdate(description=None))
    assert (cleared.title, cleared.description) == ("new", None)


def test_an_empty_update_still_moves_updated_at(session: Session, ann: User) -> None:
    todo = crud.create_todo(session, uid(ann), TodoCreate(title="t"))
    before = todo.updated_at
    assert crud.update_todo(session, uid(ann), tid(todo), TodoUpdate()).updated_at > before


def test_set_completed_and_toggle(session: Session, ann: User) -> None:
    todo = crud.create_todo(session, uid(ann), TodoCreate(title="t"))
    assert crud.toggle_completed(session, uid(ann), tid(todo)).completed is True
    assert crud.toggle_completed(session, uid(ann), tid(todo)).completed is False
    assert crud.set_completed(session, uid(ann), tid(todo), True).completed is True
    assert crud.set_completed(session, uid(ann), tid(todo), True).completed is True


def test_delete_todo_removes_it(session: Session, ann: User) -> None:
    todo = crud.create_todo(session, uid(ann), TodoCreate(title="t"))
    crud.delete_todo(session, uid(ann), tid(todo))
    with pytest.raises(TodoNotFoundError):
        crud.get_todo(session, uid(ann), tid(todo))


def test_count_todos_by_status(session: Session, ann: User, bob: User) -> None:
    assert crud.count_todos(session, uid(ann)) == crud.TodoCounts(0, 0, 0)
    make_todos(session, ann, 3)
    make_todos(session, ann, 2, completed=True)
    make_todos(session, bob, 4, completed=True)
    assert crud.count_todos(session, uid(ann)) == crud.TodoCounts(total=5, completed=2, open=3)


OTHER_USERS_TODO: list[tuple[str, Callable[[Session, int, int], object]]] = [
    ("get", crud.get_todo),
    ("update", lambda s, u, t: crud.update_todo(s, u, t, TodoUpdate(title="stolen"))),
    ("set_completed", lambda s, u, t: crud.set_completed(s, u, t, True)),
    ("toggle", crud.toggle_completed),
    ("delete", crud.delete_todo),
]


@pytest.mark.parametrize(("name", "operation"), OTHER_USERS_TODO)
def test_another_users_todo_is_indistinguishable_from_a_missing_one(
    session: Session, ann: User, bob: User, name: str, operation: Callable[..., object]
) -> None:
    bobs = crud.create_todo(session, uid(bob), TodoCreate(title="bob's"))
    missing_id = tid(bobs) + 1000
    before = table_snapshot(session)
    with pytest.raises(TodoNotFoundError) as foreign:
        operation(session, uid(ann), tid(bobs))
    with pytest.raises(TodoNotFoundError) as missing:
        operation(session, uid(ann), missing_id)
    assert type(foreign.value) is type(missing.value)
    assert str(foreign.value) == f"todo {tid(bobs)} not found"
    assert str(missing.value) == f"todo {missing_id} not found"
    assert table_snapshot(session) == before


def test_lists_and_counts_show_only_the_callers_todos(
    session: Session, ann: User, bob: User
) -> None:
    anns = {tid(t) for t in make_todos(session, ann, 3)}
    make_todos(session, bob, 5)
    assert {tid(t) for t in crud.list_todos(session, uid(ann)).items} == anns
    assert crud.count_todos(session, uid(ann)).total == 3


def test_pages_walk_newest_first_without_gaps_or_repeats(session: Session, ann: User) -> None:
    todos = make_todos(session, ann, 23)
    pages = all_pages(session, ann, limit=5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [i for p in pages for i in p] == [tid(t) for t in reversed(todos)]


def test_pages_can_walk_oldest_first_and_filter(session: Session, ann: User) -> None:
    todos = make_todos(session, ann, 12)
    for todo in todos[::2]:
        crud.toggle_completed(session, uid(ann), tid(todo))
    done = all_pages(session, ann, limit=4, completed=True, newest_first=False)
    assert [i for p in done for i in p] == [tid(t) for t in todos[::2]]
    pending = all_pages(session, ann, limit=50, completed=False)
    assert pending == [[tid(t) for t in reversed(todos[1::2])]]


def test_ties_on_created_at_are_ordered_by_id(session: Session, ann: User) -> None:
    crud.create_todos(session, uid(ann), [TodoCreate(title=f"t{i}") for i in range(7)])
    ids = [i for p in all_pages(session, ann, limit=3) for i in p]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 7


def test_a_full_last_page_has_no_next_cursor(session: Session, ann: User) -> None:
    make_todos(session, ann, 4)
    page = crud.list_todos(session, uid(ann), limit=4)
    assert len(page.items) == 4
    assert page.next_cursor is None


def test_a_cursor_for_another_user_or_query_is_refused(
    session: Session, ann: User, bob: User
) -> None:
    make_todos(session, ann, 3)
    make_todos(session, bob, 3)
    cursor = crud.list_todos(session, uid(ann), limit=1).next_cursor
    assert cursor is not None
    elsewhere: list[Callable[[], object]] = [
        lambda: crud.list_todos(session, uid(bob), cursor=cursor),
        lambda: crud.list_todos(session, uid(ann), cursor=cursor, completed=True),
        lambda: crud.list_todos(session, uid(ann), cursor=cursor, newest_first=False),
    ]
    for call in elsewhere:
        with pytest.raises(InvalidCursorError, match="belongs to another list"):
            call()


def test_a_forged_cursor_cannot_reach_another_users_rows(
    session: Session, ann: User, bob: User
) -> None:
    """Even a well-formed cursor that points into Bob's rows only ever pages Ann's."""
    bobs = make_todos(session, bob, 3)
    forged = encode_cursor(
        Position(uid(ann), None, True, bobs[-1].created_at + timedelta(days=1), tid(bobs[-1]) + 1)
    )
    assert crud.list_todos(session, uid(ann), cursor=forged).items == []


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "a.b",
        "....",
        "WzEsMSxudWxsLHRydWUsIjIwMjYiLDFd.AAAAAAAAAAAAAAAA",
        "ü.ü",
        "x" * 512,
    ],
)
def test_a_garbage_cursor_gives_a_clear_error(session: Session, ann: User, cursor: str) -> None:
    with pytest.raises(InvalidCursorError, match="cursor: is malformed or has been altered"):
        crud.list_todos(session, uid(ann), cursor=cursor)


def test_an_edited_cursor_is_refused(session: Session, ann: User) -> None:
    make_todos(session, ann, 3)
    cursor = crud.list_todos(session, uid(ann), limit=1).next_cursor
    assert cursor is not None
    edited = cursor[:20] + ("A" if cursor[20] != "A" else "B") + cursor[21:]
    with pytest.raises(InvalidCursorError):
        crud.list_todos(session, uid(ann), cursor=edited)


BAD_CALLS: list[tuple[str, Callable[[Session, int, int], object], str]] = [
    ("string user id", lambda s, u, t: unchecked.get_todo(s, str(u), t), "user_id"),
    ("zero todo id", lambda s, u, t: crud.get_todo(s, u, 0), "todo_id"),
    ("huge todo id", lambda s, u, t: crud.delete_todo(s, u, 2**64), "todo_id"),
    ("float user id", lambda s, u, t: unchecked.count_todos(s, 1.0), "user_id"),
    ("bool user id", lambda s, u, t: crud.list_todos(s, True), "user_id"),
    ("limit too big", lambda s, u, t: crud.list_todos(s, u, limit=10_000), "limit"),
    ("limit zero", lambda s, u, t: crud.list_todos(s, u, limit=0), "limit"),
    ("completed as text", lambda s, u, t: unchecked.list_todos(s, u, completed="yes"), "completed"),
    ("empty cursor", lambda s, u, t: crud.list_todos(s, u, cursor=""), "cursor"),
    ("huge cursor", lambda s, u, t: crud.list_todos(s, u, cursor="x" * 10_000), "cursor"),
    ("update as dict", lambda s, u, t: unchecked.update_todo(s, u, t, {"title": None}), "data"),
    ("unknown field", lambda s, u, t: unchecked.update_todo(s, u, t, {"owner": 2}), "data"),
    ("set_completed text", lambda s, u, t: unchecked.set_completed(s, u, t, "true"), "completed"),
    ("items not a list", lambda s, u, t: unchecked.create_todos(s, u, "abc"), "items"),
]


@pytest.mark.parametrize(("case", "call", "argument"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_arguments_name_the_argument_and_change_nothing(
    session: Session, ann: User, case: str, call: Callable[..., object], argument: str
) -> None:
    todo = crud.create_todo(session, uid(ann), TodoCreate(title="t"))
    before = table_snapshot(session)
    with pytest.raises(ValidationError) as caught:
        call(session, uid(ann), tid(todo))
    assert caught.value.errors()[0]["loc"][0] == argument
    assert table_snapshot(session) == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": " \t\n "}, "title"),
        ({"title": "x" * 256}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"title": 5}, "title"),
        ({"title": "t", "description": "d" * 2001}, "description"),
        ({"title": "t", "description": "\x00"}, "description"),
        ({"title": "t", "completed": 1}, "completed"),
        ({"title": "t", "user_id": 2}, "user_id"),
        ({"title": "t", "id": 9}, "id"),
    ],
)
def test_bad_todo_input_is_refused_by_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TodoCreate.model_validate(data)
    assert caught.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": None}, "title"),
        ({"completed": None}, "completed"),
        ({"title": "  "}, "title"),
        ({"user_id": 2}, "user_id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
    ],
)
def test_bad_update_input_is_refused_by_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TodoUpdate.model_validate(data)
    assert caught.value.errors()[0]["loc"] == (field,)
