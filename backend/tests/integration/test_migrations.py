"""Migrations build the schema the models describe, and undo it cleanly, on both backends.

On PostgreSQL the schema from `alembic upgrade head`, from `create_all` and
from the SQL contract must be identical as PostgreSQL reports them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL
from sqlmodel import SQLModel

from src.database.connection import build_engine
from src.database.migrations import (
    alembic_config,
    downgrade_to,
    downgrade_to_base,
    schema_differences,
    upgrade_to,
    upgrade_to_head,
)
from tests.conftest import KNOWN_PASSWORD_HASH, settings_for
from tests.schema import describe

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
CONTRACT = Path(__file__).parents[3] / "specs/001-db-schema/contracts/database-schema.sql"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database of each backend."""
    if request.param == "sqlite":
        url: str | URL = f"sqlite:///{tmp_path / 'migrations.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres")()
    engine = build_engine(settings_for(url))
    yield engine
    engine.dispose()


def test_the_revisions_form_one_line_each_named_by_its_file() -> None:
    """One base, one head, no branch: two revisions written at once on one parent fail here."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())  # newest first
    assert script.get_heads() == [HEAD]
    assert [r.revision for r in revisions if r.down_revision is None] == [revisions[-1].revision]
    for newer, older in itertools.pairwise(revisions):
        assert newer.down_revision == older.revision
    for revision in revisions:  # YYYYMMDD_<revision>_<slug>.py, in the order they apply
        assert Path(revision.path).name.split("_")[1] == revision.revision
    assert [r.revision for r in revisions] == sorted((r.revision for r in revisions), reverse=True)


def test_upgrade_downgrade_upgrade_round_trip(empty_engine: Engine) -> None:
    upgrade_to_head(empty_engine)
    assert {"user", "todo"} <= set(inspect(empty_engine).get_table_names())
    downgrade_to_base(empty_engine)
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    upgrade_to_head(empty_engine)
    assert {"user", "todo"} <= set(inspect(empty_engine).get_table_names())


def test_upgrading_twice_is_harmless(empty_engine: Engine) -> None:
    upgrade_to_head(empty_engine)
    upgrade_to_head(empty_engine)
    with empty_engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version"))
        assert versions.scalars().all() == [HEAD]


def test_migrated_schema_matches_the_models(empty_engine: Engine) -> None:
    """A model change without a migration fails here."""
    upgrade_to_head(empty_engine)
    assert schema_differences(empty_engine) == []


def test_a_model_change_without_a_migration_is_detected(empty_engine: Engine) -> None:
    upgrade_to_head(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_todo_user_id_created_at_id"))
    assert schema_differences(empty_engine) != []


def test_a_missing_search_index_is_detected_though_the_models_do_not_hold_it(
    empty_engine: Engine,
) -> None:
    """Alembic is told to leave `ix_todo_search` alone; its absence must still show."""
    upgrade_to_head(empty_engine)
    if empty_engine.dialect.name != "postgresql":
        assert schema_differences(empty_engine) == []  # SQLite has no search objects
        return
    with empty_engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_todo_search"))
        connection.execute(text("ALTER TABLE todo RESET (parallel_workers)"))
    assert schema_differences(empty_engine) == [
        ("missing", "ix_todo_search"),
        ("missing", "todo (parallel_workers = 0)"),
    ]


@pytest.fixture
def schema_of(
    fresh_postgres: Callable[[], URL],
) -> Iterator[Callable[[Callable[[Engine], None]], dict[str, list[tuple[object, ...]]]]]:
    engines: list[Engine] = []

    def build(apply: Callable[[Engine], None]) -> dict[str, list[tuple[object, ...]]]:
        engines.append(build_engine(settings_for(fresh_postgres())))
        apply(engines[-1])
        with engines[-1].connect() as connection:
            return describe(connection)

    yield build
    for engine in engines:
        engine.dispose()


def apply_contract(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(CONTRACT.read_text().replace("%", "%%"))


def test_migrations_and_create_all_build_the_same_postgres_schema(
    schema_of: Callable[..., dict[str, list[tuple[object, ...]]]],
) -> None:
    migrated = schema_of(upgrade_to_head)
    created = schema_of(SQLModel.metadata.create_all)
    assert migrated == created
    assert len(migrated["columns"]) == 14
    assert len(migrated["indexes"]) == 6
    assert [column for _, column, _ in migrated["generated"]] == ["search_head"]
    assert ("todo", ["parallel_workers=0"]) in migrated["options"]
    assert len(migrated["policies"]) == 4
    assert migrated["row_security"] == [("todo", True, True), ("user", False, False)]


def test_the_sql_contract_is_the_migrated_schema(
    schema_of: Callable[..., dict[str, list[tuple[object, ...]]]],
) -> None:
    assert schema_of(apply_contract) == schema_of(upgrade_to_head)


def test_every_migration_keeps_every_row_through_upgrade_and_downgrade(
    empty_engine: Engine,
) -> None:
    """Rows written at the first revision survive each step up and each step down.

    On SQLite a CHECK changes only by rebuilding its table, with foreign keys
    enforced; a rebuild that dropped `user` while `todo` referenced it would
    delete every todo through ON DELETE CASCADE.
    """
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    upgrade_to(revisions[0], empty_engine)
    with empty_engine.begin() as connection:
        for n in range(1, 4):
            connection.execute(
                text('INSERT INTO "user" (id, email, hashed_password) VALUES (:id, :email, :hash)'),
                {"id": n, "email": f"user{n}@example.com", "hash": KNOWN_PASSWORD_HASH},
            )
            connection.execute(
                text("INSERT INTO todo (id, user_id, title) VALUES (:id, :owner, :title)"),
                {"id": n, "owner": n, "title": f"todo of user {n}"},
            )

    def counted() -> tuple[int, int]:
        with empty_engine.connect() as connection:  # as a superuser: no row security
            users = connection.execute(text('SELECT count(*) FROM "user"')).scalar_one()
            todos = connection.execute(text("SELECT count(*) FROM todo")).scalar_one()
            return int(users), int(todos)

    for revision in revisions[1:]:
        upgrade_to(revision, empty_engine)
        assert counted() == (3, 3), f"after upgrading to {revision}"
    for revision in reversed(revisions[:-1]):
        downgrade_to(revision, empty_engine)
        assert counted() == (3, 3), f"after downgrading to {revision}"
