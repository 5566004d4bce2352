"""Column types shared by the tables, and the one stored form of an instant on SQLite.

`UTCDateTime` keeps timestamps timezone-aware on both backends: PostgreSQL
stores `timestamptz`; SQLite has no time zones and hands back naive values,
which are re-tagged as UTC on the way out. Naive datetimes are refused on the
way in, because their meaning depends on the machine that made them.

SQLite stores an instant as text and compares that text, so keyset pages are
in time order only if every stored instant has one form: UTC, fixed width,
microseconds (`2026-12-01 10:00:00.000000`, what this type writes). Rows that
do not pass through this type break that otherwise: the server default
(CURRENT_TIMESTAMP writes no fraction), raw SQL and imports (`T`, `Z`,
`+02:00`). So the database holds the rule: after every INSERT, and every
UPDATE of such a column, a trigger rewrites any date and time SQLite itself
reads as an instant (`YYYY-MM-DD HH:MM[:SS[.digits]]`, `T` or space, then `Z`,
`+HH:MM`, `-HH:MM` or nothing for UTC) to the one form, and refuses anything
else with an error naming the column. Triggers, not CHECKs: a CHECK can only
refuse (it would refuse the server default's own output), and a CHECK or a
default changes on SQLite only by rebuilding both tables. `create_all` installs
the triggers on every table with a `UTCDateTime` column (the listener below);
migration 0007 installs a frozen copy and rewrites the rows stored before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, Table, event
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY is the
# auto-incrementing rowid alias.
BigIntegerKey = BigInteger().with_variant(Integer(), "sqlite")

SQLITE_INSTANT_RULE = (
    "must be a date and time, YYYY-MM-DD HH:MM[:SS[.digits]] with T or a space, "
    "in UTC or ending in Z, +HH:MM or -HH:MM"
)


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC `datetime` in and out, whatever the backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamps must be timezone-aware")
        utc = value.astimezone(UTC)
        # SQLite stores the text of what it is given: keep one offset so text order is time order.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_D2 = "[0-9][0-9]"
_TO_MINUTE = f"{_D2}{_D2}-{_D2}-{_D2}[ T]{_D2}:{_D2}"
_TO_SECOND = f"{_TO_MINUTE}:{_D2}"
_STORED = f"{_D2}{_D2}-{_D2}-{_D2} {_D2}:{_D2}:{_D2}.{_D2}{_D2}{_D2}"
_SECOND = "'%Y-%m-%d %H:%M:%S'"


def sqlite_instant(value: str) -> str:
    """A SQLite expression: the instant `value` (SQL) in the stored form, NULL if it is none.

    Built-in functions only, so a trigger using it runs in any SQLite that opens
    the file. The date and time are checked by a round trip through strftime
    (which would carry 2026-02-30 to March); an offset may reach 14:59 (SQLite's
    limit); local time and UTC must both fall in years 0001 to 9999 (Python's);
    digits past microseconds are cut, and the fraction is kept as text, since
    SQLite's own arithmetic keeps milliseconds.
    """
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


def sqlite_instant_stored(value: str) -> str:
    """A SQLite condition: `value` is in the stored form (the same as `sqlite_instant(value)
    = value`, only cheaper: the check every row written through `UTCDateTime` pays)."""
    return (
        f"(typeof({value}) = 'text' AND {value} GLOB '{_STORED}'"
        f" AND strftime({_SECOND}, substr({value}, 1, 19), '+0 seconds') IS substr({value}, 1, 19)"
        f" AND {value} >= '0001')"
    )


def sqlite_instant_triggers(table: str, columns: Sequence[str]) -> list[str]:
    """The two triggers that hold `columns` of `table` to the stored form (see the module)."""
    stored = " AND ".join(sqlite_instant_stored(f"NEW.{c}") for c in columns)
    rewrite = ", ".join(
        f"{c} = coalesce({sqlite_instant(f'NEW.{c}')},"
        f" RAISE(ABORT, '{table}.{c} {SQLITE_INSTANT_RULE}'))"
        for c in columns
    )
    return [
        f'CREATE TRIGGER "{table}_instant_form_on_{name}" AFTER {event_} ON "{table}"'  # noqa: S608
        f' FOR EACH ROW WHEN NOT ({stored}) BEGIN UPDATE "{table}" SET {rewrite}'
        " WHERE rowid = NEW.rowid; END"
        for name, event_ in (("insert", "INSERT"), ("update", f"UPDATE OF {', '.join(columns)}"))
    ]


@event.listens_for(Table, "after_create")
def _hold_instants_to_one_form(table: Table, connection: Connection, **_: Any) -> None:
    """`create_all` on SQLite: every table with a `UTCDateTime` column gets the triggers."""
    columns = [column.name for column in table.columns if isinstance(column.type, UTCDateTime)]
    if columns and connection.dialect.name == "sqlite":
        for statement in sqlite_instant_triggers(table.name, columns):
            connection.exec_driver_sql(statement)
