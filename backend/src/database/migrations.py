"""Bring a database to the newest schema revision with Alembic, and check it is there.

The migrations live in `src/migrations`, inside the package, so an installed
wheel can migrate too; its `env.py` takes its comparison and rendering rules
from here, so `alembic check`, autogenerate and the tests all judge the schema
the same way.

A run is one transaction (`migration_connection`), whichever way it starts
(these functions or the `alembic` command): all its revisions apply, or none.
On SQLite foreign keys are not enforced inside it, as SQLite's procedure for
rebuilding a table requires (`src.database.sqlite_rebuild`), and are checked
before it commits; on PostgreSQL it first locks the tables it may alter
without ever waiting while holding a lock (`src.database.migration_locks`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine
from sqlalchemy import types as sqltypes
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from src import models as _models  # noqa: F401  registers the tables
from src.config.settings import get_settings
from src.database.connection import get_engine
from src.database.migration_locks import hold_tables
from src.models.search_index import include_in_comparison, missing_search_objects
from src.models.types import UTCDateTime

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def render_item(type_: str, obj: Any, _autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the package's column types as plain SQLAlchemy types in migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def compare_type(
    context: MigrationContext,
    _inspected_column: Any,
    _metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Compare `UTCDateTime` as the timestamp type it stores; defer to Alembic otherwise."""
    if not isinstance(metadata_type, UTCDateTime):
        return None
    if not isinstance(inspected_type, sqltypes.DateTime):
        return True
    return context.dialect.name == "postgresql" and not inspected_type.timezone


COMPARE_OPTIONS: dict[str, Any] = {
    "compare_type": compare_type,
    "compare_server_default": True,
    "include_object": include_in_comparison,  # the search column and index are PostgreSQL's
}


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_to_head(engine: Engine | None = None, *, lock_timeout_s: float | None = None) -> None:
    """Apply every migration not yet applied; a database already at head is left alone.

    `lock_timeout_s` bounds every wait for a lock on PostgreSQL (default: the
    `DB_MIGRATION_LOCK_TIMEOUT_S` setting); past it the run changes nothing and
    raises `MigrationLockTimeoutError`.
    """
    upgrade_to("head", engine, lock_timeout_s=lock_timeout_s)


def downgrade_to_base(engine: Engine | None = None) -> None:
    """Undo every migration (drops the tables and their data)."""
    downgrade_to("base", engine)


def upgrade_to(
    revision: str, engine: Engine | None = None, *, lock_timeout_s: float | None = None
) -> None:
    """Apply the migrations up to `revision` (an operator pinning a version, or a test)."""
    _run(engine or get_engine(), "upgrade", revision, lock_timeout_s)


def downgrade_to(
    revision: str, engine: Engine | None = None, *, lock_timeout_s: float | None = None
) -> None:
    """Undo the migrations after `revision`."""
    _run(engine or get_engine(), "downgrade", revision, lock_timeout_s)


def schema_differences(engine: Engine | None = None) -> list[Any]:
    """What a new migration would have to change to match the models (empty when current),
    and on PostgreSQL the search objects the models do not hold but the database must."""
    with (engine or get_engine()).connect() as connection:
        context = MigrationContext.configure(connection, opts=COMPARE_OPTIONS)
        differences: list[Any] = list(compare_metadata(context, SQLModel.metadata))
        return differences + [("missing", what) for what in missing_search_objects(connection)]


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in the one transaction of a migration run, committed if the body returns.

    On SQLite, foreign keys are enforced again afterwards, whatever happened;
    `PRAGMA foreign_keys` is a no-op inside a transaction, so it is switched
    before the transaction begins, on the driver's connection.
    """
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with connection.begin():
                yield connection
            return
        _enforce_sqlite_foreign_keys(connection, enforce=False)
        try:
            with connection.begin():
                yield connection
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration: foreign keys broken, not committed: {broken}")
        finally:
            _enforce_sqlite_foreign_keys(connection, enforce=True)


def _enforce_sqlite_foreign_keys(connection: Connection, *, enforce: bool) -> None:
    """Switch enforcement on the driver's connection; one that cannot be switched back
    on is discarded, so the pool never hands out a connection that does not enforce."""
    try:
        driver_connection: Any = connection.connection.driver_connection
        driver_connection.execute(f"PRAGMA foreign_keys={'ON' if enforce else 'OFF'}")
    except Exception:
        connection.invalidate()
        raise


def prepare_run(
    connection: Connection,
    current: Sequence[str],
    destination: str | Sequence[str] | None,
    lock_timeout_s: float | None,
) -> None:
    """Before the first revision of a run on PostgreSQL: hold every package table.

    Called by `env.py` inside the run's transaction, and only when a revision
    will run (an upgrade of a database already at head locks nothing). Tables
    in the order requests lock them (`todo` before `user`), though
    `hold_tables` never waits holding one.
    """
    if connection.dialect.name != "postgresql":
        return
    if not _pending(ScriptDirectory.from_config(alembic_config()), current, destination):
        return
    if lock_timeout_s is None:
        lock_timeout_s = get_settings().migration_lock_timeout_s
    tables = [table.name for table in reversed(SQLModel.metadata.sorted_tables)]
    hold_tables(connection, tables, lock_timeout_s)


def _pending(
    script: ScriptDirectory, current: Sequence[str], destination: str | Sequence[str] | None
) -> bool:
    """Whether migrating to `destination` runs a revision (a relative one: assume it does)."""
    wanted = [destination] if isinstance(destination, str) else list(destination or ())
    if any(not name or name[0] in "+-" or "@" in name or ":" in name for name in wanted):
        return True
    try:
        targets = {found.revision for name in wanted for found in script.get_revisions(name)}
    except CommandError:
        return True
    return targets != set(current)


def _run(engine: Engine, direction: str, revision: str, lock_timeout_s: float | None) -> None:
    config = alembic_config()
    config.attributes["lock_timeout_s"] = lock_timeout_s
    with migration_connection(engine) as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)
