"""PostgreSQL itself refuses other users' todos: Row-Level Security as a second line.

Connected as the application's least-privilege role, directly and through the
TLS pooler. Raw SQL here bypasses the package's own scoping on purpose: what
remains is what the database enforces.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import ProgrammingError, StatementError
from sqlmodel import Session, col, select

from src import crud
from src.database import autocommit
from src.database.connection import new_session
from src.database.roles import row_security_applies
from src.models import Todo, TodoCreate
from src.models.row_security import as_user
from tests.conftest import act_as, add_user

# The shared `engine` and `session` fixtures, on the backends that have row security.
pytestmark = pytest.mark.parametrize("backend", ["postgresql", "pgbouncer"], indirect=True)


@pytest.fixture
def two_users(session: Session) -> tuple[int, int]:
    """Ann with two todos, Bob with one; returns their ids."""
    ann, bob = add_user(session, "ann@example.com"), add_user(session, "bob@example.com")
    assert ann.id is not None
    assert bob.id is not None
    crud.create_todos(session, ann.id, [TodoCreate(title="a1"), TodoCreate(title="a2")])
    crud.create_todo(session, bob.id, TodoCreate(title="b1"))
    return ann.id, bob.id


def rows_changed(session: Session, statement: str, **parameters: object) -> int:
    return int(session.execute(text(statement), parameters).rowcount)  # type: ignore[attr-defined]


def titles(session: Session) -> list[str]:
    return sorted(session.execute(text("SELECT title FROM todo")).scalars())


def test_the_application_role_is_held_to_row_security(session: Session) -> None:
    assert row_security_applies(session.connection())
    owner = session.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = 'todo'"))
    assert owner.scalar_one() != session.execute(text("SELECT current_user")).scalar_one()


def test_a_raw_select_shows_only_the_named_users_rows(
    session: Session, two_users: tuple[int, int]
) -> None:
    ann, bob = two_users
    act_as(session, ann)
    assert titles(session) == ["a1", "a2"]
    act_as(session, bob)
    assert titles(session) == ["b1"]


@pytest.fixture
def committed_users(engine: Engine) -> Iterator[tuple[int, int]]:
    """Like `two_users`, but committed, so fresh connections and transactions see it."""
    with new_session(engine) as session:
        ann, bob = add_user(session, "ann-c@example.com"), add_user(session, "bob-c@example.com")
        assert ann.id is not None
        assert bob.id is not None
        crud.create_todos(session, ann.id, [TodoCreate(title="a1"), TodoCreate(title="a2")])
        crud.create_todo(session, bob.id, TodoCreate(title="b1"))
    yield ann.id, bob.id
    with new_session(engine) as session:
        crud.delete_user(session, ann.id)
        crud.delete_user(session, bob.id)


def test_a_connection_that_never_named_a_user_sees_no_row(
    engine: Engine, committed_users: tuple[int, int]
) -> None:
    del committed_users
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM todo")).scalar_one() == 0


def test_the_named_user_ends_with_the_transaction(
    engine: Engine, committed_users: tuple[int, int]
) -> None:
    ann, _ = committed_users
    with engine.connect() as connection:
        with connection.begin():
            connection.execute(
                text("SELECT set_config('app.current_user_id', :u, true)"), {"u": str(ann)}
            )
            assert connection.execute(text("SELECT count(*) FROM todo")).scalar_one() == 2
        with connection.begin():
            assert connection.execute(text("SELECT count(*) FROM todo")).scalar_one() == 0


def test_inserting_a_row_for_another_user_is_refused(
    session: Session, two_users: tuple[int, int]
) -> None:
    ann, bob = two_users
    act_as(session, ann)
    with pytest.raises(ProgrammingError, match="row-level security"):
        session.execute(
            text("INSERT INTO todo (user_id, title) VALUES (:bob, 'planted')"), {"bob": bob}
        )


def test_moving_a_row_to_another_user_is_refused(
    session: Session, two_users: tuple[int, int]
) -> None:
    ann, bob = two_users
    act_as(session, ann)
    with pytest.raises(ProgrammingError, match="row-level security"):
        session.execute(text("UPDATE todo SET user_id = :bob WHERE title = 'a1'"), {"bob": bob})


def test_another_users_rows_cannot_be_changed_or_deleted(
    session: Session, two_users: tuple[int, int]
) -> None:
    ann, bob = two_users
    act_as(session, ann)
    assert (
        rows_changed(session, "UPDATE todo SET title = 'mine' WHERE user_id = :bob", bob=bob) == 0
    )
    assert rows_changed(session, "DELETE FROM todo WHERE user_id = :bob", bob=bob) == 0
    act_as(session, bob)
    assert titles(session) == ["b1"]


def test_with_no_user_named_nothing_can_be_written(
    session: Session, two_users: tuple[int, int]
) -> None:
    ann, _ = two_users
    session.execute(text("SELECT set_config('app.current_user_id', '', true)"))
    assert titles(session) == []
    assert rows_changed(session, "DELETE FROM todo") == 0
    with pytest.raises(ProgrammingError, match="row-level security"):
        session.execute(text("INSERT INTO todo (user_id, title) VALUES (:ann, 'x')"), {"ann": ann})


def test_deleting_a_user_still_cascades_to_their_todos(
    session: Session, two_users: tuple[int, int]
) -> None:
    ann, bob = two_users
    crud.delete_user(session, ann)
    act_as(session, ann)
    assert titles(session) == []
    act_as(session, bob)
    assert titles(session) == ["b1"]


def test_the_user_is_named_with_every_statement_of_a_session_of_its_own(
    engine: Engine, session: Session, two_users: tuple[int, int]
) -> None:
    ann, bob = two_users
    sent = record_statements(engine)
    try:
        assert [len(crud.list_todos(session, user).items) for user in (ann, bob, ann)] == [2, 1, 2]
        assert len(sent) == 3  # one statement per operation, the naming inside it
        named = [statement.split(";")[0] for statement in sent]
        if engine.dialect.name == "postgresql":
            assert named == [f"SET LOCAL app.current_user_id = '{u}'" for u in (ann, bob, ann)]
        else:  # SQLite has no row security
            assert not any("SET LOCAL" in statement for statement in sent)
    finally:
        event.remove(engine, "before_cursor_execute", sent.record)


def test_in_a_callers_transaction_the_user_is_named_once_and_again_after_a_savepoint(
    engine: Engine, session: Session, two_users: tuple[int, int]
) -> None:
    ann, bob = two_users

    def visible(user_id: int) -> int:
        return len(crud.list_todos(session, user_id).items)

    def namings() -> int:
        return sum("SET LOCAL" in statement for statement in sent)

    session.begin()  # the caller's transaction: reads join it and leave it open
    sent = record_statements(engine)
    try:
        assert (visible(ann), visible(ann), namings()) == (2, 2, _pg(engine, 1))
        assert (visible(bob), visible(bob), namings()) == (1, 1, _pg(engine, 2))
        savepoint = session.begin_nested()  # a savepoint's rollback undoes SET LOCAL
        assert (visible(ann), namings()) == (2, _pg(engine, 3))
        savepoint.rollback()
        assert (visible(ann), namings()) == (2, _pg(engine, 4))
        assert session.in_transaction()
        session.commit()
        assert (visible(ann), namings()) == (2, _pg(engine, 5))
    finally:
        event.remove(engine, "before_cursor_execute", sent.record)


class _Recorder(list[str]):
    def record(self, *args: object) -> tuple[object, object]:
        self.append(str(args[2]))
        return args[2], args[3]


def record_statements(engine: Engine) -> _Recorder:
    """The statements `engine` sends from now on, as sent (the naming included)."""
    recorder = _Recorder()
    event.listen(engine, "before_cursor_execute", recorder.record, retval=True)
    return recorder


def _pg(engine: Engine, count: int) -> int:
    return count if engine.dialect.name == "postgresql" else 0


def test_an_operation_interrupted_while_beginning_leaves_no_user_behind(
    session: Session, two_users: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, bob = two_users

    def interrupted(_connection: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(autocommit, "switch_on", interrupted)
    with pytest.raises(KeyboardInterrupt):
        crud.list_todos(session, ann)
    monkeypatch.undo()
    assert not session.in_transaction()  # rolled back: no connection still carrying Ann
    assert [todo.title for todo in crud.list_todos(session, bob).items] == ["b1"]
    assert titles(session) == []  # a bare read names nobody and sees nothing


def test_a_statement_the_driver_refused_does_not_count_as_naming_its_user(
    session: Session, two_users: tuple[int, int]
) -> None:
    ann, bob = two_users
    refused = select(Todo).where(col(Todo.title) == "nul \x00 byte")  # psycopg2 refuses it
    with session.begin():  # the caller's own transaction: operations join it
        assert len(crud.list_todos(session, ann).items) == 2  # Ann named in the transaction
        with pytest.raises((ValueError, StatementError)):
            session.execute(refused.execution_options(**as_user(bob)))
        assert [todo.title for todo in crud.list_todos(session, bob).items] == ["b1"]
