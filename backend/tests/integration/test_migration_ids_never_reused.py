"""Migration 0005 makes SQLite's ids never reused, keeping every row, id and rule.

It rebuilds `user` and `todo` with AUTOINCREMENT on a database file that holds
data. The engine keeps `PRAGMA foreign_keys=ON` throughout, as in production,
so a rebuild that dropped `user` while `todo` referenced it would cascade-delete
every todo: the row-for-row comparisons below catch that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlmodel import SQLModel

from src.database.connection import build_engine
from src.database.migrations import downgrade_to, upgrade_to, upgrade_to_head
from tests.conftest import KNOWN_PASSWORD_HASH, settings_for

BEFORE = "0004"
ROWS = {
    "user": 'SELECT * FROM "user" ORDER BY id',
    "todo": "SELECT * FROM todo ORDER BY id",
}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file at revision 0004 holding several users' todos, some rows deleted."""
    engine = build_engine(settings_for(f"sqlite:///{tmp_path / 'ids.db'}"))
    upgrade_to(BEFORE, engine)
    with engine.begin() as connection:
        for n in range(1, 6):
            add_user(connection, f"user{n}@example.com")
        for owner, title, description, done in [
            (1, "ann's", None, False),
            (2, "bob's first", "with a description", True),
            (2, "bob's second", None, False),
            (3, "cal's", "", False),
            (4, "dan's", "gone with dan", False),
            (5, "eve's", None, True),
            (5, "eve's newest", None, False),
        ]:
            add_todo(connection, owner, title, description, done=done)
        connection.execute(text('DELETE FROM "user" WHERE id IN (4, 5)'))  # 5: the highest
        connection.execute(text("DELETE FROM todo WHERE title = 'bob''s second'"))
    yield engine
    engine.dispose()


def add_user(connection: Connection, email: str) -> int:
    insert = text('INSERT INTO "user" (email, hashed_password) VALUES (:email, :hash) RETURNING id')
    values = {"email": email, "hash": KNOWN_PASSWORD_HASH}
    return int(connection.execute(insert, values).scalar_one())


def add_todo(
    connection: Connection,
    owner: int,
    title: str,
    description: str | None = None,
    *,
    done: bool = False,
) -> int:
    insert = text(
        "INSERT INTO todo (user_id, title, description, completed)"
        " VALUES (:owner, :title, :description, :done) RETURNING id"
    )
    values = {"owner": owner, "title": title, "description": description, "done": done}
    return int(connection.execute(insert, values).scalar_one())


def rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {table: [tuple(r) for r in connection.execute(text(q))] for table, q in ROWS.items()}


def schema(connection: Connection) -> dict[str, str]:
    """Each table's and index's SQL, with quoting and spacing (which SQLite keeps as written)
    made uniform."""
    found = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE tbl_name IN ('user', 'todo')")
    )
    return {name: " ".join(sql.replace('"', "").split()) for name, sql in found if sql}


def test_the_upgrade_keeps_every_row_and_id(engine: Engine) -> None:
    before = rows(engine)
    assert len(before["user"]) == 3
    assert len(before["todo"]) == 3
    upgrade_to("0005", engine)  # 0007 writes instants out in full: the same instants, new text
    assert rows(engine) == before


def test_after_the_upgrade_deleted_ids_are_never_given_again(engine: Engine) -> None:
    upgrade_to_head(engine)
    with engine.begin() as connection:
        present = max(r[0] for r in connection.execute(text('SELECT id FROM "user"')))
        first = add_user(connection, "first@example.com")
        assert first > present  # above every id present (5, deleted before, is not recorded)
        connection.execute(text('DELETE FROM "user" WHERE id = :id'), {"id": first})
        assert add_user(connection, "second@example.com") > first
        newest_todo = add_todo(connection, 1, "newest")
        connection.execute(text("DELETE FROM todo WHERE id = :id"), {"id": newest_todo})
        assert add_todo(connection, 1, "next") > newest_todo


def test_after_the_upgrade_deleting_a_user_still_deletes_only_their_todos(engine: Engine) -> None:
    upgrade_to_head(engine)
    before = rows(engine)["todo"]
    with engine.begin() as connection:
        connection.execute(text('DELETE FROM "user" WHERE id = 2'))
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    assert rows(engine)["todo"] == [row for row in before if row[-1] != 2]  # user_id is last


def test_the_upgraded_schema_is_the_one_create_all_builds(engine: Engine) -> None:
    upgrade_to_head(engine)
    created = create_engine("sqlite://")
    SQLModel.metadata.create_all(created)
    with engine.connect() as migrated, created.connect() as fresh:
        assert schema(migrated) == schema(fresh)
        assert "AUTOINCREMENT" in schema(migrated)["user"]
        assert "AUTOINCREMENT" in schema(migrated)["todo"]
    created.dispose()


def test_downgrade_and_upgrade_again_keep_every_row(engine: Engine) -> None:
    upgrade_to("0005", engine)  # the revision under test; later ones add columns
    before = rows(engine)
    downgrade_to(BEFORE, engine)
    assert rows(engine) == before
    with engine.connect() as connection:
        assert not any("AUTOINCREMENT" in sql for sql in schema(connection).values())
    upgrade_to("0005", engine)
    assert rows(engine) == before
    with engine.begin() as connection:
        highest = connection.execute(text('SELECT max(id) FROM "user"')).scalar_one()
        assert add_user(connection, "later@example.com") > highest
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []


def test_the_upgrade_refuses_legacy_renames_that_would_break_the_foreign_key(
    engine: Engine,
) -> None:
    before = rows(engine)
    engine.dispose()  # every connection from now on is a legacy one

    @event.listens_for(engine, "connect")
    def _legacy(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.execute("PRAGMA legacy_alter_table=ON")

    with pytest.raises(RuntimeError, match="legacy_alter_table"):
        upgrade_to_head(engine)
    assert rows(engine) == before
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version"))
        assert version.scalar() == BEFORE
