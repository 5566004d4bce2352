"""Revision 0008 adds `user.is_active`: every account that exists is active, no row is lost.

The column comes with a constant default, so neither backend rewrites or
rebuilds a table: the table's storage (PostgreSQL's file node, SQLite's root
page) is the one it had before. The downgrade drops the column and keeps
every account and todo.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL

from src.database.connection import build_engine
from src.database.migrations import alembic_config, downgrade_to, upgrade_to
from tests.conftest import KNOWN_PASSWORD_HASH, settings_for

REVISION = "0008"
_SCRIPT = ScriptDirectory.from_config(alembic_config())
PREVIOUS = str(_SCRIPT.get_revision(REVISION).down_revision)  # 0007
ACCOUNTS = 3


@pytest.fixture(params=["sqlite", "postgresql"])
def at_previous(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database at the revision before 0008, holding accounts with a todo each."""
    if request.param == "sqlite":
        url: str | URL = f"sqlite:///{tmp_path / 'accounts.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres")()
    engine = build_engine(settings_for(url))
    upgrade_to(PREVIOUS, engine)
    with engine.begin() as connection:  # as the owner: no row security
        for n in range(1, ACCOUNTS + 1):
            connection.execute(
                text('INSERT INTO "user" (id, email, hashed_password) VALUES (:id, :email, :h)'),
                {"id": n, "email": f"user{n}@example.com", "h": KNOWN_PASSWORD_HASH},
            )
            connection.execute(
                text("INSERT INTO todo (id, user_id, title) VALUES (:id, :id, :title)"),
                {"id": n, "title": f"todo of user {n}"},
            )
    yield engine
    engine.dispose()


def rows(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every account (without `is_active`) and every todo, as stored."""
    with engine.connect() as connection:
        users = connection.execute(
            text(
                'SELECT id, email, hashed_password, created_at, updated_at FROM "user" ORDER BY id'
            )
        )
        todos = connection.execute(text("SELECT * FROM todo ORDER BY id"))
        return [tuple(r) for r in users], [tuple(r) for r in todos]


def states(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return list(connection.execute(text('SELECT is_active FROM "user" ORDER BY id')).scalars())


def storage(engine: Engine) -> list[object]:
    """Where each table's rows live: a rewrite or rebuild moves them."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            found = connection.execute(
                text("SELECT name, rootpage FROM sqlite_master WHERE type = 'table' ORDER BY name")
            )
        else:
            found = connection.execute(
                text("SELECT pg_relation_filenode('\"user\"'), pg_relation_filenode('todo')")
            )
        return [tuple(r) for r in found]


def test_every_existing_account_is_active_after_the_upgrade_and_nothing_else_changes(
    at_previous: Engine,
) -> None:
    before, where = rows(at_previous), storage(at_previous)
    upgrade_to(REVISION, at_previous)
    assert states(at_previous) == [True] * ACCOUNTS
    assert rows(at_previous) == before
    assert storage(at_previous) == where  # no table rewritten (PostgreSQL) or rebuilt (SQLite)
    column = next(c for c in inspect(at_previous).get_columns("user") if c["name"] == "is_active")
    assert column["nullable"] is False
    with at_previous.begin() as connection:  # an insert that does not name it: active
        connection.execute(
            text('INSERT INTO "user" (id, email, hashed_password) VALUES (:id, :email, :h)'),
            {"id": ACCOUNTS + 1, "email": "later@example.com", "h": KNOWN_PASSWORD_HASH},
        )
    assert states(at_previous) == [True] * (ACCOUNTS + 1)


def test_the_downgrade_keeps_every_row_and_forgets_only_who_was_deactivated(
    at_previous: Engine,
) -> None:
    before = rows(at_previous)
    upgrade_to(REVISION, at_previous)
    with at_previous.begin() as connection:
        connection.execute(text('UPDATE "user" SET is_active = false WHERE id = 2'))
    downgrade_to(PREVIOUS, at_previous)
    assert rows(at_previous) == before
    assert "is_active" not in {c["name"] for c in inspect(at_previous).get_columns("user")}
    upgrade_to(REVISION, at_previous)
    assert states(at_previous) == [True] * ACCOUNTS
    assert rows(at_previous) == before
