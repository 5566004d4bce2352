"""On SQLite the database holds every instant to one stored form, or refuses it.

The rule, as `src.models.types` states it: a date and time
`YYYY-MM-DD HH:MM[:SS[.digits]]`, with `T` or a space, in UTC or ending in
`Z`, `+HH:MM` or `-HH:MM`, is stored as `YYYY-MM-DD HH:MM:SS.ffffff` in UTC
(digits past microseconds cut); anything else is refused with an error naming
the column, and nothing is written. It holds for raw SQL, which never passes
through the package: `stored_form` below states it again in Python,
independently of the SQL, and the database must agree with it on any text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from src.database.connection import build_engine
from src.database.migrations import upgrade_to_head
from src.models.types import sqlite_instant, sqlite_instant_stored
from tests.conftest import KNOWN_PASSWORD_HASH, settings_for

SPELLED = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]+))?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
WRITES = {  # how a value reaches each instant column: raw INSERT and UPDATE
    ("todo", "insert"): "INSERT INTO todo (user_id, title, {column}) VALUES (1, 'new', :value)",
    ("todo", "update"): "UPDATE todo SET {column} = :value WHERE id = 1",
    ("user", "insert"): (
        'INSERT INTO "user" (email, hashed_password, {column})'
        f" VALUES ('new@example.com', '{KNOWN_PASSWORD_HASH}', :value)"
    ),
    ("user", "update"): 'UPDATE "user" SET {column} = :value WHERE id = 1',
}
TARGETS = st.sampled_from([(t, how, c) for t, how in WRITES for c in ("created_at", "updated_at")])


def stored_form(value: str) -> str | None:
    """What the rule stores for `value`, or None where it refuses it."""
    spelled = SPELLED.fullmatch(value)
    if spelled is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = spelled.groups()
    offset = timedelta()
    if zone not in (None, "Z"):
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 14 or minutes > 59:  # SQLite reads offsets up to 14:59
            return None
        offset = timedelta(hours=hours, minutes=minutes) * (1 if zone[0] == "+" else -1)
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
        utc = local - offset
    except (ValueError, OverflowError):  # no such date or time, or out of years 1 to 9999
        return None
    return f"{utc.isoformat(' ')}.{(fraction or '').ljust(6, '0')[:6]}"


@pytest.fixture(scope="module")
def database() -> Iterator[Engine]:
    """A migrated in-memory database holding user 1 and their todo 1."""
    engine = build_engine(settings_for("sqlite://"))
    upgrade_to_head(engine)
    with engine.begin() as connection:
        connection.execute(
            text('INSERT INTO "user" (email, hashed_password) VALUES (:email, :hash)'),
            {"email": "first@example.com", "hash": KNOWN_PASSWORD_HASH},
        )
        connection.execute(text("INSERT INTO todo (user_id, title) VALUES (1, 'first')"))
    yield engine
    engine.dispose()


def write(connection: Connection, table: str, how: str, column: str, value: object) -> str | None:
    """Write `value` to `table.column`; what is stored, or None with the refusal checked."""
    before = connection.execute(text(f'SELECT * FROM "{table}" ORDER BY id')).all()
    statement = text(WRITES[table, how].format(column=column))
    refusal: IntegrityError | None = None
    try:
        with connection.begin_nested():
            connection.execute(statement, {"value": value})
    except IntegrityError as refused:
        refusal = refused
    if refusal is not None:
        assert f"{table}.{column} must be a date and time" in str(refusal.orig)
        assert connection.execute(text(f'SELECT * FROM "{table}" ORDER BY id')).all() == before
        return None
    row = "max(id)" if how == "insert" else "1"
    query = f'SELECT {column} FROM "{table}" WHERE id = (SELECT {row} FROM "{table}")'
    return str(connection.execute(text(query)).scalar_one())


@st.composite
def spellings(draw: st.DrawFn) -> tuple[str, datetime]:
    """An instant, and one way of spelling it that the rule accepts."""
    instant = draw(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.just(UTC)))
    minutes = draw(st.integers(-(14 * 60 + 59), 14 * 60 + 59))
    local = instant.astimezone(timezone(timedelta(minutes=minutes)))
    zone = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if minutes == 0:
        zone = draw(st.sampled_from(["", "Z", zone, "-00:00"]))
    digits = f"{local.microsecond:06d}"
    shown = draw(st.integers(len(digits.rstrip("0")), 6))  # trailing zeros may go
    past = draw(st.text("0123456789", max_size=4)) if shown == 6 else ""  # past µs: cut
    fraction = digits[:shown] + past
    seconds = f":{local.second:02d}" + (f".{fraction}" if fraction else "")
    if seconds == ":00" and draw(st.booleans()):
        seconds = ""
    day_and_time = local.isoformat(draw(st.sampled_from(" T")), "minutes")[:16]
    return day_and_time + seconds + zone, instant


@given(spelling=spellings(), target=TARGETS)
def test_any_spelling_of_an_instant_is_stored_as_that_instant_in_the_one_form(
    database: Engine, spelling: tuple[str, datetime], target: tuple[str, str, str]
) -> None:
    value, instant = spelling
    expected = instant.replace(tzinfo=None).isoformat(" ", "microseconds")
    assert stored_form(value) == expected  # the rule as stated, before the database
    with database.connect() as connection, connection.begin() as transaction:
        assert write(connection, *target, value) == expected
        transaction.rollback()


ANY_TEXT = st.one_of(
    st.from_regex(SPELLED, fullmatch=True),  # the right shape; often no such date
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}", fullmatch=True
    ),
    st.text(st.sampled_from("0123456789-:. TZz+"), max_size=32),
    st.text(max_size=32),
)


@given(value=ANY_TEXT, target=TARGETS)
def test_text_is_stored_exactly_when_it_spells_an_instant(
    database: Engine, value: str, target: tuple[str, str, str]
) -> None:
    with database.connect() as connection, connection.begin() as transaction:
        assert write(connection, *target, value) == stored_form(value)
        transaction.rollback()


@pytest.mark.parametrize(
    "value",
    [
        "yesterday", "now", "", "2026-12-01", "10:00:00", "2026-12-01 10", "2026-12-01T10",
        "2026-13-01 10:00:00", "2026-02-29 10:00:00", "2026-12-32 10:00:00",
        "2026-12-01 24:00:00", "2026-12-01 10:60:00", "2026-12-01 10:00:60",
        "2026-12-01 10:00:00+15:00", "2026-12-01 10:00:00+02", "2026-12-01 10:00:00+0200",
        "2026-12-01 10:00:00 +02:00", "2026-12-01t10:00:00z", " 2026-12-01 10:00:00",
        "2026-12-01 10:00:00.", "2026-12-01 10:00.5", "0000-06-01 10:00:00",
        "0001-01-01 00:30:00+01:00", "9999-12-31 23:30:00-01:00",
        "\uff12\uff10\uff12\uff16-12-01 10:00:00", 1764583200, 2461010.5,
        b"2026-12-01 10:00:00.000000",
    ],
)  # fmt: skip
def test_what_is_no_instant_is_refused_naming_the_column(database: Engine, value: object) -> None:
    with database.connect() as connection, connection.begin() as transaction:
        for table, how in WRITES:
            for column in ("created_at", "updated_at"):
                assert write(connection, table, how, column, value) is None
        transaction.rollback()


@given(value=ANY_TEXT)
def test_the_quick_check_of_the_stored_form_agrees_with_the_rewrite(
    database: Engine, value: str
) -> None:
    """The triggers skip values `sqlite_instant_stored` accepts: exactly those the rewrite keeps."""
    query = text(f"SELECT {sqlite_instant_stored(':value')}, {sqlite_instant(':value')} IS :value")
    with database.connect() as connection:
        quick, kept = connection.execute(query, {"value": value}).one()
    assert (quick, kept) in ((0, 0), (1, 1))  # never NULL: a trigger's WHEN NOT NULL is false
