"""Migrations touch only the package's tables: an application's own tables keep every row.

An application adds tables that reference `user` and `todo` (ON DELETE
CASCADE, SET NULL, RESTRICT), an index on `todo`, a view and a trigger, at
the first revision; then every revision runs up and back down. On SQLite the
rebuilds of `todo` and `user` drop the old tables: with foreign keys enforced
that deleted the referencing rows (CASCADE), emptied their column (SET NULL)
or refused (RESTRICT), and a view naming `todo` made the renames fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from src.config.settings import get_settings
from src.database.connection import build_engine
from src.database.migrations import alembic_config, downgrade_to, upgrade_to
from src.database.sqlite_rebuild import SQLiteRebuildError
from tests.conftest import KNOWN_PASSWORD_HASH, settings_for

REVISIONS = [
    script.revision
    for script in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
]
APP_TABLES = {
    "todo_tag": "CREATE TABLE todo_tag (todo_id BIGINT NOT NULL REFERENCES todo (id)"
    " ON DELETE CASCADE, tag VARCHAR(20) NOT NULL)",
    "api_key": "CREATE TABLE api_key (id INTEGER PRIMARY KEY,"
    ' user_id BIGINT NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,'
    " label VARCHAR(20) NOT NULL)",
    "audit": 'CREATE TABLE audit (id INTEGER PRIMARY KEY, user_id BIGINT REFERENCES "user" (id)'
    " ON DELETE SET NULL, todo_id BIGINT REFERENCES todo (id) ON DELETE SET NULL)",
    "pin": "CREATE TABLE pin (todo_id BIGINT PRIMARY KEY REFERENCES todo (id) ON DELETE RESTRICT)",
}
INDEX = "CREATE INDEX ix_app_todo_title ON todo (title)"
VIEW = "CREATE VIEW open_todos AS SELECT id, user_id, title FROM todo WHERE NOT completed"
TRIGGERS = {  # tag every new todo 'new'; on SQLite the view takes inserts too
    "sqlite": [
        "CREATE TRIGGER todo_tagged AFTER INSERT ON todo BEGIN"
        " INSERT INTO todo_tag (todo_id, tag) VALUES (new.id, 'new'); END",
        "CREATE TRIGGER open_todo_added INSTEAD OF INSERT ON open_todos BEGIN"
        " INSERT INTO todo (user_id, title) VALUES (new.user_id, new.title); END",
    ],
    "postgresql": [
        "CREATE FUNCTION tag_new_todo() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " INSERT INTO todo_tag (todo_id, tag) VALUES (NEW.id, 'new'); RETURN NEW; END $$",
        "CREATE TRIGGER todo_tagged AFTER INSERT ON todo FOR EACH ROW"
        " EXECUTE FUNCTION tag_new_todo()",
    ],
}
ROWS = {
    "user": 'INSERT INTO "user" (id, email, hashed_password)'
    " VALUES (1, 'ann@example.com', :hash), (2, 'bob@example.com', :hash)",
    "todo": "INSERT INTO todo (id, user_id, title) VALUES (1, 1, 'ann one'), (2, 2, 'bob one'),"
    " (3, 1, 'ann two')",
    "todo_tag": "INSERT INTO todo_tag (todo_id, tag) VALUES (1, 'home'), (2, 'work'), (3, 'home')",
    "api_key": "INSERT INTO api_key (id, user_id, label)"
    " VALUES (1, 1, 'ann cli'), (2, 2, 'bob cli')",
    "audit": "INSERT INTO audit (id, user_id, todo_id) VALUES (1, 1, 1), (2, 2, 2)",
    "pin": "INSERT INTO pin (todo_id) VALUES (3)",
}


# Each way the old rebuilds failed, on its own, so that one failure cannot hide another:
# CASCADE and SET NULL lost rows silently, RESTRICT refused, a view broke the renames.
APPS = {
    "cascade and set null": (["todo_tag", "api_key", "audit"], False),
    "restrict": (["todo_tag", "api_key", "audit", "pin"], False),
    "view and trigger": (["todo_tag", "api_key", "audit"], True),
}


@dataclass
class AppDatabase:
    engine: Engine
    tables: list[str]  # the application's tables
    views: list[str]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> URL | str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    url: URL = request.getfixturevalue("fresh_postgres")()
    return url


@pytest.fixture(params=list(APPS.values()), ids=list(APPS))
def app(url: URL | str, request: pytest.FixtureRequest) -> Iterator[AppDatabase]:
    """A database at the first revision to which an application added its own objects."""
    tables, view_and_trigger = request.param
    engine = build_engine(settings_for(url))
    upgrade_to(REVISIONS[0], engine)
    with engine.begin() as connection:
        for create in [*(APP_TABLES[name] for name in tables), INDEX]:
            connection.exec_driver_sql(create)
        for table in ["user", "todo", *tables]:
            connection.execute(text(ROWS[table]), {"hash": KNOWN_PASSWORD_HASH})
        if view_and_trigger:
            connection.exec_driver_sql(VIEW)
            for create in TRIGGERS[engine.dialect.name]:
                connection.exec_driver_sql(create)
    yield AppDatabase(engine, tables, ["open_todos"] if view_and_trigger else [])
    engine.dispose()


def app_state(app: AppDatabase) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the application's tables and view, and its named objects."""
    with app.engine.connect() as connection:
        state = {
            name: [tuple(row) for row in connection.exec_driver_sql(f"SELECT * FROM {name}")]
            for name in [*app.tables, *app.views]
        }
        state["objects"] = app_objects(connection)
        return {name: sorted(rows, key=repr) for name, rows in state.items()}


def app_objects(connection: Connection) -> list[tuple[object, ...]]:
    if connection.dialect.name == "sqlite":
        query = (
            "SELECT type, name FROM sqlite_master"
            " WHERE name IN ('ix_app_todo_title', 'todo_tagged', 'open_todo_added')"
        )
    else:
        query = (
            "SELECT 'index', indexname FROM pg_indexes WHERE indexname = 'ix_app_todo_title'"
            " UNION ALL SELECT 'trigger', tgname FROM pg_trigger WHERE tgname = 'todo_tagged'"
        )
    return [tuple(row) for row in connection.exec_driver_sql(query)]


def test_every_revision_up_and_down_keeps_the_applications_rows_and_objects(
    app: AppDatabase,
) -> None:
    before = app_state(app)
    assert len(before["todo_tag"]) == 3
    triggers = {"sqlite": 2, "postgresql": 1}[app.engine.dialect.name] if app.views else 0
    assert len(before["objects"]) == 1 + triggers  # the index, and the triggers
    for revision in REVISIONS[1:]:
        upgrade_to(revision, app.engine)
        assert app_state(app) == before, f"after upgrading to {revision}"
    for revision in reversed(REVISIONS[:-1]):
        downgrade_to(revision, app.engine)
        assert app_state(app) == before, f"after downgrading to {revision}"


def test_after_the_upgrade_the_applications_references_act_on_the_rebuilt_tables(
    app: AppDatabase,
) -> None:
    upgrade_to("head", app.engine)
    with app.engine.begin() as connection:
        if connection.dialect.name == "sqlite":  # enforced again on the pool's connections
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        connection.exec_driver_sql("INSERT INTO todo (id, user_id, title) VALUES (4, 2, 'new')")
        connection.exec_driver_sql('DELETE FROM "user" WHERE id = 2')
    state = app_state(app)
    assert state["todo_tag"] == [(1, "home"), (3, "home")]  # 'work' and any trigger's 'new' went
    if app.views:
        assert state["open_todos"] == [(1, 1, "ann one"), (3, 1, "ann two")]
        with app.engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO todo (id, user_id, title) VALUES (5, 1, 'x')")
            if connection.dialect.name == "sqlite":  # through the view's INSTEAD OF trigger
                connection.exec_driver_sql(
                    "INSERT INTO open_todos (user_id, title) VALUES (1, 'y')"
                )
        after = app_state(app)
        assert (5, "new") in after["todo_tag"]  # the trigger is on the new table
        assert (connection.dialect.name == "sqlite") == any(
            r[2] == "y" for r in after["open_todos"]
        )
    assert state["api_key"] == [(1, 1, "ann cli")]
    assert state["audit"] == [(1, 1, 1), (2, None, None)]
    if "pin" in app.tables:
        with pytest.raises(IntegrityError), app.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM todo WHERE id = 3")  # pinned: RESTRICT


def test_the_alembic_command_keeps_the_applications_rows_too(
    app: AppDatabase, url: URL | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`alembic upgrade head` builds its own engine from the settings (env.py)."""
    before = app_state(app)
    database_url = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        command.upgrade(alembic_config(), "head")
    finally:
        get_settings.cache_clear()
    assert app_state(app) == before
    with app.engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        assert version == REVISIONS[-1]


def upgrade_in_its_own_transaction(engine: Engine) -> None:
    """As a caller may: Alembic on a connection of its own, in a transaction it began."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@pytest.mark.parametrize("url", ["sqlite"], indirect=True)  # PostgreSQL rebuilds nothing
def test_a_sqlite_rebuild_on_a_connection_enforcing_foreign_keys_is_refused(
    app: AppDatabase,
) -> None:
    """Inside a transaction enforcement cannot be switched off: the rebuild refuses first."""
    before = app_state(app)
    with pytest.raises(SQLiteRebuildError, match="foreign keys are enforced"):
        upgrade_in_its_own_transaction(app.engine)
    assert app_state(app) == before
