"""Instants have one stored form on SQLite: UTC, fixed width, microseconds.

SQLite stores `created_at` and `updated_at` as text and keyset pages compare
that text. The package writes `2026-12-01 10:00:00.000000`; the server default
(CURRENT_TIMESTAMP) writes `2026-12-01 10:00:00`, and raw SQL or an import may
write `2026-12-01T10:00:00Z` or `2026-12-01 12:00:00+02:00`. Mixed, they sort
out of time order, so newest-first pages repeated rows forever and
oldest-first pages skipped rows (and an offset was read back as wall time).

The upgrade, on SQLite:
- refuses, changing nothing, if a stored value is not a date and time at all,
  naming the table, column and row ids, for an operator to correct first;
- rewrites every other stored form to the one form (same instant, in UTC);
- installs, on both tables, the triggers `src.models.types` describes: after
  every INSERT and every UPDATE of an instant column, any other form of a date
  and time is rewritten, and anything else refused with an error naming the
  column. Triggers rather than CHECKs, so no table is rebuilt.
The downgrade drops the triggers; the rewritten values stay, since every
earlier revision reads them as the same instants. PostgreSQL stores
`timestamptz`: nothing changes there.

The SQL is frozen here as `src.models.types` wrote it on 2026-12-01, so this
revision does the same thing whatever that module becomes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"user": ("created_at", "updated_at"), "todo": ("created_at", "updated_at")}
RULE = (
    "must be a date and time, YYYY-MM-DD HH:MM[:SS[.digits]] with T or a space, "
    "in UTC or ending in Z, +HH:MM or -HH:MM"
)
SHOWN_IDS = 10

_D2 = "[0-9][0-9]"
_TO_MINUTE = f"{_D2}{_D2}-{_D2}-{_D2}[ T]{_D2}:{_D2}"
_TO_SECOND = f"{_TO_MINUTE}:{_D2}"
_STORED = f"{_D2}{_D2}-{_D2}-{_D2} {_D2}:{_D2}:{_D2}.{_D2}{_D2}{_D2}"
_SECOND = "'%Y-%m-%d %H:%M:%S'"


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    connection = op.get_bind()
    for table, columns in TABLES.items():
        for column in columns:
            value = f'"{table}".{column}'
            unreadable = connection.exec_driver_sql(
                f'SELECT rowid FROM "{table}" WHERE {instant(value)} IS NULL'  # noqa: S608
                f" ORDER BY rowid LIMIT {SHOWN_IDS + 1}"
            ).scalars()
            ids = [str(row_id) for row_id in unreadable]
            if ids:
                shown = ", ".join(ids[:SHOWN_IDS]) + (", ..." if len(ids) > SHOWN_IDS else "")
                raise RuntimeError(
                    f"{table}.{column} of rows with id {shown} {RULE}; correct them first"
                )
        values = {column: f'"{table}".{column}' for column in columns}
        rewrite = ", ".join(f"{column} = {instant(value)}" for column, value in values.items())
        other = " OR ".join(f"NOT {stored(value)}" for value in values.values())
        update = f'UPDATE "{table}" SET {rewrite} WHERE {other}'  # noqa: S608  SQL text only
        connection.exec_driver_sql(update)
        for statement in triggers(table, columns):
            connection.exec_driver_sql(statement)


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for table in TABLES:
        for name in ("insert", "update"):
            op.get_bind().exec_driver_sql(
                f'DROP TRIGGER IF EXISTS "{table}_instant_form_on_{name}"'
            )


def instant(value: str) -> str:
    """SQLite: the instant `value` in the stored form, NULL if it is no date and time."""
    return (
        f"(SELECT CASE WHEN shaped AND (zone IN ('', 'Z') OR zone GLOB '[+-]{_D2}:{_D2}')"  # noqa: S608
        f" AND local >= '0001' AND strftime({_SECOND}, local, '+0 seconds') = local"
        f" AND strftime({_SECOND}, local || zone) >= '0001'"
        f" THEN strftime({_SECOND}, local || zone) || '.' || substr(fraction || '000000', 1, 6)"
        " END FROM (SELECT shaped, local,"
        " CASE WHEN fractional THEN substr(rest, 2, length(rest) - 1"
        " - length(ltrim(substr(rest, 2), '0123456789'))) ELSE '' END AS fraction,"
        " CASE WHEN fractional THEN ltrim(substr(rest, 2), '0123456789') ELSE rest END AS zone"
        f" FROM (SELECT typeof(v) = 'text' AND v GLOB '{_TO_MINUTE}*' AS shaped,"
        " substr(v, 1, 10) || ' ' || substr(v, 12, 5) || ':'"
        " || CASE WHEN seconds THEN substr(v, 18, 2) ELSE '00' END AS local,"
        " CASE WHEN seconds THEN substr(v, 20) ELSE substr(v, 17) END AS rest,"
        " seconds AND substr(v, 20) GLOB '.[0-9]*' AS fractional"
        f" FROM (SELECT v, v GLOB '{_TO_SECOND}*' AS seconds FROM (SELECT {value} AS v)))))"
    )


def stored(value: str) -> str:
    """SQLite: whether `value` is in the stored form (`instant(value) = value`, cheaper)."""
    return (
        f"(typeof({value}) = 'text' AND {value} GLOB '{_STORED}'"
        f" AND strftime({_SECOND}, substr({value}, 1, 19), '+0 seconds') IS substr({value}, 1, 19)"
        f" AND {value} >= '0001')"
    )


def triggers(table: str, columns: Sequence[str]) -> list[str]:
    """After INSERT and UPDATE OF `columns`: rewrite to the stored form, or refuse."""
    all_stored = " AND ".join(stored(f"NEW.{c}") for c in columns)
    rewrite = ", ".join(
        f"{c} = coalesce({instant(f'NEW.{c}')}, RAISE(ABORT, '{table}.{c} {RULE}'))"
        for c in columns
    )
    return [
        f'CREATE TRIGGER "{table}_instant_form_on_{name}" AFTER {event} ON "{table}"'  # noqa: S608
        f' FOR EACH ROW WHEN NOT ({all_stored}) BEGIN UPDATE "{table}" SET {rewrite}'
        " WHERE rowid = NEW.rowid; END"
        for name, event in (("insert", "INSERT"), ("update", f"UPDATE OF {', '.join(columns)}"))
    ]
