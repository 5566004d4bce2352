"""An id, once deleted, is never handed out again, on every backend.

A FastAPI service's token carries the user's id. Were a deleted user's id given
to the next user who registers, the old token would read and change the new
user's todos. PostgreSQL's sequences never go back; SQLite's tables are
AUTOINCREMENT, which remembers the highest id ever used (data-model.md).
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlmodel import Session

from src import crud
from src.errors import TodoNotFoundError, UserNotFoundError
from src.models import TodoCreate, UserCreate
from tests.conftest import add_user, uid


def test_a_stale_id_of_a_deleted_user_reaches_nobody(session: Session) -> None:
    password = SecretStr("a long enough password")
    bob = crud.create_user(session, UserCreate(email="bob@x.com", password=password))
    bob_id = uid(bob)
    crud.delete_user(session, bob_id)
    carol = crud.create_user(session, UserCreate(email="carol@x.com", password=password))
    todo = crud.create_todo(session, uid(carol), TodoCreate(title="Carol's private todo"))
    assert todo.id is not None

    assert uid(carol) > bob_id
    assert crud.list_todos(session, bob_id).items == []
    assert crud.count_todos(session, bob_id).total == 0
    with pytest.raises(TodoNotFoundError):
        crud.get_todo(session, bob_id, todo.id)
    with pytest.raises(UserNotFoundError):
        crud.create_todo(session, bob_id, TodoCreate(title="planted by a stale token"))
    assert [t.title for t in crud.list_todos(session, uid(carol)).items] == [todo.title]


def test_user_ids_keep_rising_after_the_newest_users_are_deleted(session: Session) -> None:
    ids = [uid(add_user(session, f"user{n}@example.com")) for n in range(3)]
    for user_id in reversed(ids[1:]):  # the two highest
        crud.delete_user(session, user_id)
    again = [uid(add_user(session, f"again{n}@example.com")) for n in range(2)]
    assert min(again) > max(ids)
    assert again == sorted(again)


def test_todo_ids_keep_rising_after_the_newest_todo_is_deleted(session: Session) -> None:
    owner = uid(add_user(session, "ann@example.com"))
    first = crud.create_todo(session, owner, TodoCreate(title="first"))
    newest = crud.create_todo(session, owner, TodoCreate(title="newest"))
    assert first.id is not None
    assert newest.id is not None
    crud.delete_todo(session, owner, newest.id)
    crud.create_todos(session, owner, [TodoCreate(title="bulk one"), TodoCreate(title="bulk two")])
    single = crud.create_todo(session, owner, TodoCreate(title="single"))
    new_ids = [t.id for t in crud.list_todos(session, owner).items if t.id != first.id]
    assert len(new_ids) == 3
    assert all(todo_id is not None and todo_id > newest.id for todo_id in new_ids)
    assert single.id is not None
    assert single.id > newest.id
