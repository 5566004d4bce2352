"""Migration 0007 gives every instant stored on SQLite the one form, keeping every row.

A database file at 0006 holds rows whose instants raw SQL wrote in every
spelling (nothing held them to a form then). The upgrade rewrites each to the
same instant in the one form, after which pages walk every row once; a value
that is no instant at all stops it, naming its rows, with nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from src.database.connection import build_engine
from src.database.migrations import downgrade_to, upgrade_to, upgrade_to_head
from tests.conftest import KNOWN_PASSWORD_HASH, settings_for
from tests.integration.test_sqlite_instant_form import SPELLINGS, walk

BEFORE = "0006"
TRIGGERS = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file at 0006: a user, and a todo per spelling (in both of its instants)."""
    engine = build_engine(settings_for(f"sqlite:///{tmp_path / 'instants.db'}"))
    upgrade_to(BEFORE, engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "user" (id, email, hashed_password, created_at)'
                " VALUES (1, 'ann@example.com', :hash, '2026-12-01T09:00:00+02:00')"
            ),
            {"hash": KNOWN_PASSWORD_HASH},
        )
        for n, spelling in enumerate(SPELLINGS, start=1):
            connection.execute(
                text(
                    "INSERT INTO todo (id, user_id, title, created_at, updated_at)"
                    " VALUES (:id, 1, :title, :at, :at)"
                ),
                {"id": n * 10, "title": spelling, "at": spelling},
            )
        connection.execute(text("INSERT INTO todo (id, user_id, title) VALUES (5, 1, 'default')"))
    yield engine
    engine.dispose()


def rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        found = connection.execute(text("SELECT id, title, created_at, updated_at FROM todo"))
        return sorted(tuple(row) for row in found)


def test_the_upgrade_stores_every_instant_in_the_one_form_keeping_every_row(
    engine: Engine,
) -> None:
    before = rows(engine)
    upgrade_to_head(engine)
    after = rows(engine)
    assert [row[:2] for row in after] == [row[:2] for row in before]
    for _, title, created_at, updated_at in after:
        if title in SPELLINGS:
            expected = SPELLINGS[str(title)].replace(tzinfo=None).isoformat(" ", "microseconds")
            assert (created_at, updated_at) == (expected, expected), title
        else:  # the server default's whole second, with its fraction written out
            assert str(created_at).endswith(".000000")
            assert created_at == updated_at
    with engine.connect() as connection:
        user = connection.execute(text('SELECT created_at FROM "user"')).scalar_one()
        assert user == "2026-12-01 07:00:00.000000"
        assert len(connection.execute(text(TRIGGERS)).all()) == 4
    with Session(engine) as session:
        oldest_first = walk(session, 1, newest_first=False, limit=3)
        assert sorted(oldest_first) == [row[0] for row in after]
        assert walk(session, 1, newest_first=True, limit=3) == oldest_first[::-1]


def test_the_upgrade_stops_at_a_value_that_is_no_instant_naming_its_rows(
    engine: Engine,
) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE todo SET created_at = 'soon' WHERE id IN (20, 40)"))
    before = rows(engine)
    with pytest.raises(RuntimeError, match=r"todo\.created_at of rows with id 20, 40 must be a"):
        upgrade_to_head(engine)
    assert rows(engine) == before
    with engine.connect() as connection:
        assert (
            connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == BEFORE
        )
        assert connection.execute(text(TRIGGERS)).all() == []


def test_the_downgrade_drops_the_rule_and_keeps_every_row(engine: Engine) -> None:
    upgrade_to_head(engine)
    upgraded = rows(engine)
    downgrade_to(BEFORE, engine)
    assert rows(engine) == upgraded
    with engine.begin() as connection:
        assert connection.execute(text(TRIGGERS)).all() == []
        connection.execute(text("UPDATE todo SET created_at = '2026-12-01T10:00:00Z' WHERE id = 5"))
    upgrade_to_head(engine)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT created_at FROM todo WHERE id = 5")).scalar()
        assert stored == "2026-12-01 10:00:00.000000"
