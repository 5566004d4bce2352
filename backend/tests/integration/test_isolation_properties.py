"""Property-based isolation: random sequences of operations by several users.

After every step each user's view (list pages and counts) equals a plain
in-memory model of that user's todos, and an operation by one user on
another user's todo fails exactly like one on a missing todo and changes
nothing. Runs on both backends; `HYPOTHESIS_PROFILE=ci` (set by CI) runs more.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import Session

from src import crud
from src.errors import TodoNotFoundError
from src.models import TodoCreate, TodoUpdate
from src.models.base import INVISIBLE_CHARACTERS
from tests.conftest import add_user

USERS = ("ann@example.com", "bob@example.com", "cy@example.com")
titles = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40
).filter(lambda t: t.strip(INVISIBLE_CHARACTERS) != "")
descriptions = st.none() | st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60
)


@dataclass(frozen=True)
class Expected:
    owner: int
    title: str
    description: str | None
    completed: bool
    created_at: datetime


class IsolationMachine(RuleBasedStateMachine):
    todos = Bundle("todos")

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.users: list[int] = []
        self.model: dict[int, Expected] = {}

    @initialize()
    def register_users(self) -> None:
        for email in USERS:
            user = add_user(self.session, email)
            assert user.id is not None
            self.users.append(user.id)

    def teardown(self) -> None:
        # The next example starts empty; their todos go by ON DELETE CASCADE.
        for user_id in self.users:
            crud.delete_user(self.session, user_id)

    def user(self, index: int) -> int:
        return self.users[index % len(self.users)]

    @rule(
        target=todos,
        who=st.integers(0, 2),
        title=titles,
        description=descriptions,
        completed=st.booleans(),
    )
    def create(self, who: int, title: str, description: str | None, completed: bool) -> int:
        data = TodoCreate(title=title, description=description, completed=completed)
        todo = crud.create_todo(self.session, self.user(who), data)
        assert todo.id is not None
        self.model[todo.id] = Expected(
            self.user(who), data.title, data.description, completed, todo.created_at
        )
        return todo.id

    @rule(todo_id=todos, who=st.integers(0, 2))
    def get(self, todo_id: int, who: int) -> None:
        expected = self.model.get(todo_id)
        if expected is None or expected.owner != self.user(who):
            with pytest.raises(TodoNotFoundError, match=f"^todo {todo_id} not found$"):
                crud.get_todo(self.session, self.user(who), todo_id)
            return
        todo = crud.get_todo(self.session, self.user(who), todo_id)
        assert (todo.title, todo.description, todo.completed) == (
            expected.title,
            expected.description,
            expected.completed,
        )

    @rule(
        todo_id=todos,
        who=st.integers(0, 2),
        title=st.none() | titles,
        description=st.none() | descriptions,
        send_description=st.booleans(),
    )
    def update(
        self,
        todo_id: int,
        who: int,
        title: str | None,
        description: str | None,
        send_description: bool,
    ) -> None:
        fields: dict[str, object] = {} if title is None else {"title": title}
        if send_description:
            fields["description"] = description
        data = TodoUpdate.model_validate(fields)
        expected = self.model.get(todo_id)
        if expected is None or expected.owner != self.user(who):
            with pytest.raises(TodoNotFoundError):
                crud.update_todo(self.session, self.user(who), todo_id, data)
            return
        crud.update_todo(self.session, self.user(who), todo_id, data)
        self.model[todo_id] = replace(expected, **data.changes())

    @rule(todo_id=todos, who=st.integers(0, 2))
    def toggle(self, todo_id: int, who: int) -> None:
        expected = self.model.get(todo_id)
        if expected is None or expected.owner != self.user(who):
            with pytest.raises(TodoNotFoundError):
                crud.toggle_completed(self.session, self.user(who), todo_id)
            return
        todo = crud.toggle_completed(self.session, self.user(who), todo_id)
        assert todo.completed is not expected.completed
        self.model[todo_id] = replace(expected, completed=todo.completed)

    @rule(todo_id=consumes(todos), who=st.integers(0, 2))
    def delete(self, todo_id: int, who: int) -> None:
        expected = self.model.get(todo_id)
        if expected is None or expected.owner != self.user(who):
            with pytest.raises(TodoNotFoundError):
                crud.delete_todo(self.session, self.user(who), todo_id)
            return
        crud.delete_todo(self.session, self.user(who), todo_id)
        del self.model[todo_id]

    @rule(
        who=st.integers(0, 2),
        completed=st.sampled_from([None, True, False]),
        limit=st.integers(1, 4),
        newest_first=st.booleans(),
    )
    def list_all_pages(
        self, who: int, completed: bool | None, limit: int, newest_first: bool
    ) -> None:
        owner = self.user(who)
        mine = [
            (e.created_at, todo_id)
            for todo_id, e in self.model.items()
            if e.owner == owner and (completed is None or e.completed == completed)
        ]
        expected = [todo_id for _, todo_id in sorted(mine, reverse=newest_first)]
        seen: list[int] = []
        cursor = None
        while True:
            page = crud.list_todos(
                self.session,
                owner,
                completed=completed,
                limit=limit,
                cursor=cursor,
                newest_first=newest_first,
            )
            assert len(page.items) <= limit
            seen.extend(t.id for t in page.items if t.id is not None)
            assert all(t.user_id == owner for t in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == expected

    @invariant()
    def counts_match_the_model(self) -> None:
        for owner in self.users:
            mine = [e for e in self.model.values() if e.owner == owner]
            done = sum(e.completed for e in mine)
            assert crud.count_todos(self.session, owner) == crud.TodoCounts(
                total=len(mine), completed=done, open=len(mine) - done
            )


def test_no_user_ever_sees_or_changes_another_users_todos(session: Session) -> None:
    run_state_machine_as_test(lambda: IsolationMachine(session))  # type: ignore[no-untyped-call]
