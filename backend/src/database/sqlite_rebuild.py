"""Rebuilding a SQLite table in a migration without touching anything else in the file.

SQLite changes a CHECK, or adds AUTOINCREMENT, only by rebuilding the table:
create the new one, copy the rows, drop the old one, rename the new one. Its
documented procedure (sqlite.org/lang_altertable.html, "other kinds of table
schema changes") is what `rebuilding` holds a revision to:

- Foreign keys must not be enforced, or dropping the old `todo` deletes the
  rows of every application table that references it through ON DELETE
  CASCADE (SET NULL empties their column, RESTRICT refuses the drop). The
  migration runner switches enforcement off before its transaction
  (`src.database.migrations.migration_connection`); a connection still
  enforcing is refused here, before anything is dropped.
- Views and triggers are set aside and made again afterwards: a view naming
  a table that is briefly missing makes every later RENAME fail, and a
  trigger on a rebuilt table would go with it.
- Indexes of the rebuilt tables are made again from their own SQL unless the
  rebuild made them itself (Alembic's batch mode does).
- The renames must rewrite references (no legacy_alter_table), and
  `PRAGMA foreign_key_check` must come back empty before the migration goes on.

The application's own tables are never read or written: their REFERENCES
name the table, and the rebuilt table takes the name back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection

from src.errors import DataLayerError


class SQLiteRebuildError(DataLayerError, RuntimeError):
    """A rebuild cannot keep every row and reference on this connection; nothing was changed."""


@contextmanager
def rebuilding(connection: Connection, tables: Sequence[str]) -> Iterator[None]:
    """Around the rebuild of `tables`: refuse an unsafe connection, set aside and restore
    views, triggers and the tables' indexes, and prove every foreign key intact after."""
    _require_safe(connection)
    schema = connection.exec_driver_sql(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
    )
    saved = [
        (kind, name, sql)
        for kind, name, table, sql in schema
        if kind in ("view", "trigger") or (kind == "index" and table in tables)
    ]
    for kind, name, _sql in reversed(saved):  # a view's INSTEAD OF trigger goes with it
        if kind != "index":
            connection.exec_driver_sql(f"DROP {kind.upper()} IF EXISTS {_quoted(name)}")
    yield
    present = {row[0] for row in connection.exec_driver_sql("SELECT name FROM sqlite_master")}
    for kind, name, sql in saved:
        if kind != "index" or name not in present:
            connection.exec_driver_sql(sql)
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise SQLiteRebuildError(f"foreign keys broken by the rebuild: {broken}")


def _require_safe(connection: Connection) -> None:
    if connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise SQLiteRebuildError(
            "foreign keys are enforced on this connection, so rebuilding a table would delete "
            "or refuse rows of tables that reference it; run migrations through "
            "src.database.migrations (upgrade_to_head) or the alembic command, which switch "
            "enforcement off before their transaction and check every key before committing"
        )
    if connection.exec_driver_sql("PRAGMA legacy_alter_table").scalar():
        raise SQLiteRebuildError(
            "PRAGMA legacy_alter_table is on; turn it off to run this migration"
        )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
