"""Cursors: anything a client sends that the package did not mint is refused, before any SQL.

Every refusal is counted against the engine's `before_cursor_execute` events:
not one statement (not even the row-security `set_config`) may reach the
database for a cursor that is refused. The layout forged here is the one
research.md (section 8) documents: version, user id, query flags, created_at
in microseconds since 1970 UTC and todo id, big-endian, then HMAC-SHA256.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session

from src import crud
from src.config.settings import get_settings
from src.crud import aio
from src.crud.pagination import UNKEYED, Position, decode_cursor, encode_cursor, seal
from src.errors import InvalidCursorError
from src.models import TodoCreate, User
from tests.conftest import add_user_async, statements_sent, uid

LAYOUT = struct.Struct(">BQBqQ")  # version, user_id, flags, created_at µs, todo_id
NEWEST_FIRST_ALL = 1  # the flags byte of completed=None, newest_first=True
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ID = 2**63 - 1
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ENOUGH_FOR_A_WHILE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def refused_before_any_sql(session: Session, user: int, cursor: str) -> str:
    """The rule `list_todos` gives for `cursor`, after proving it sent no SQL."""
    engine = session.get_bind().engine
    with statements_sent(engine) as sent, pytest.raises(InvalidCursorError) as refused:
        crud.list_todos(session, user, cursor=cursor)
    assert sent == []
    return refused.value.rule


def forged(version: int, user: int, flags: int, micros: int, todo_id: int) -> str:
    """A cursor with these fields, signed with the key in use (the public one here)."""
    return seal(LAYOUT.pack(version, user, flags, micros, todo_id), key=UNKEYED)


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


@pytest.fixture
def ann_cursor(session: Session, ann: User) -> str:
    """A real cursor of Ann's first page of 2, newest first, over 5 todos."""
    crud.create_todos(session, uid(ann), [TodoCreate(title=f"t{i}") for i in range(5)])
    cursor = crud.list_todos(session, uid(ann), limit=2).next_cursor
    assert cursor is not None
    return cursor


def mutations(cursor: str) -> dict[str, str]:
    """Texts a client might send instead of `cursor`: edits, other alphabets, aliases."""
    raw = base64.urlsafe_b64decode(cursor + "==")
    last = ALPHABET.index(cursor[-1])
    # The last character carries 2 bits of the last byte and 4 unused bits.
    alias = cursor[:-1] + ALPHABET[last ^ 0b0101]
    assert base64.urlsafe_b64decode(alias + "==") == raw  # the same bytes, another text
    standard = base64.b64encode(raw).decode()
    found = {
        "non-canonical last character": alias,
        "padded": cursor + "==",
        "one pad": cursor + "=",
        "standard alphabet, padded": standard,
        "standard alphabet, unpadded": standard.rstrip("="),
        "trailing character": cursor + "A",
        "trailing newline": cursor + "\n",
        "trailing NUL": cursor + "\x00",
        "leading space": " " + cursor,
        "space inside": cursor[:30] + " " + cursor[30:],
        "newline inside": cursor[:30] + "\n" + cursor[30:],
        "tab inside": cursor[:30] + "\t" + cursor[30:],
        "dot inside": cursor[:30] + "." + cursor[30:],
        "last character dropped": cursor[:-1],
        "first character dropped": cursor[1:],
        "doubled": cursor + cursor,
        "upper case": cursor.upper(),
        "swapped case": cursor.swapcase(),
        "reversed": cursor[::-1],
        "fullwidth lookalike": cursor[:-1] + chr(0xFF21 + (ord("A") - 65)),
        "percent-encoded": cursor[:-1] + "%" + format(ord(cursor[-1]), "02X"),
        "bytes flipped": base64.urlsafe_b64encode(bytes(b ^ 1 for b in raw)).decode().rstrip("="),
    }
    for index in range(len(cursor)):  # every single-character edit
        other = ALPHABET[(ALPHABET.index(cursor[index]) + 17) % 64]
        found[f"character {index} edited"] = cursor[:index] + other + cursor[index + 1 :]
    return {name: text for name, text in found.items() if text != cursor}


def test_a_real_cursor_still_pages_every_row_once(session: Session, ann: User) -> None:
    """The control: a minted cursor is accepted, and the counter does see its SQL."""
    crud.create_todos(session, uid(ann), [TodoCreate(title=f"t{i}") for i in range(7)])
    for newest_first in (True, False):
        seen, cursor = [], None
        while True:
            with statements_sent(session.get_bind().engine) as sent:
                page = crud.list_todos(
                    session, uid(ann), limit=3, cursor=cursor, newest_first=newest_first
                )
            assert sent  # the counter works: a page is read from the database
            seen += [todo.id for todo in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)) == 7
        assert seen == sorted(seen, reverse=newest_first)  # type: ignore[type-var]


def test_every_edit_alphabet_and_alias_of_a_real_cursor_is_refused(
    session: Session, ann: User, ann_cursor: str
) -> None:
    for name, text in mutations(ann_cursor).items():
        rule = refused_before_any_sql(session, uid(ann), text)
        assert rule == "is malformed or has been altered", name


@ENOUGH_FOR_A_WHILE
@given(garbage=st.text(min_size=1, max_size=512))
def test_garbage_text_is_refused_before_any_sql(session: Session, ann: User, garbage: str) -> None:
    refused_before_any_sql(session, uid(ann), garbage)


@ENOUGH_FOR_A_WHILE
@given(
    text=st.one_of(
        st.text(alphabet=ALPHABET, min_size=76, max_size=80),
        st.binary(min_size=58, max_size=58).map(
            lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")
        ),
    )
)
def test_well_shaped_text_without_our_tag_is_refused(
    session: Session, ann: User, text: str
) -> None:
    """Right alphabet and length, so only the tag can tell it apart."""
    refused_before_any_sql(session, uid(ann), text)


@ENOUGH_FOR_A_WHILE
@given(data=st.data())
def test_a_real_cursor_with_any_bit_flipped_is_refused(
    session: Session, ann: User, ann_cursor: str, data: st.DataObject
) -> None:
    raw = bytearray(base64.urlsafe_b64decode(ann_cursor + "=="))
    index = data.draw(st.integers(0, len(raw) - 1), label="byte")
    raw[index] ^= data.draw(st.integers(1, 255), label="mask")
    edited = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert refused_before_any_sql(session, uid(ann), edited) == "is malformed or has been altered"


def signed_but_out_of_range(user: int) -> dict[str, str]:
    """Cursors with a valid tag whose fields no row can have (the checksum is public here)."""
    now = micros(datetime(2026, 1, 1, tzinfo=UTC))
    first, last = micros(datetime.min.replace(tzinfo=UTC)), micros(datetime.max.replace(tzinfo=UTC))
    return {
        "todo id 0": forged(2, user, NEWEST_FIRST_ALL, now, 0),
        "todo id 2^63": forged(2, user, NEWEST_FIRST_ALL, now, 2**63),
        "todo id 2^64-1": forged(2, user, NEWEST_FIRST_ALL, now, 2**64 - 1),
        "user id 0": forged(2, 0, NEWEST_FIRST_ALL, now, 1),
        "user id 2^63": forged(2, 2**63, NEWEST_FIRST_ALL, now, 1),
        "before year 1": forged(2, user, NEWEST_FIRST_ALL, first - 1, 1),
        "after year 9999": forged(2, user, NEWEST_FIRST_ALL, last + 1, 1),
        "largest timestamp": forged(2, user, NEWEST_FIRST_ALL, 2**63 - 1, 1),
        "smallest timestamp": forged(2, user, NEWEST_FIRST_ALL, -(2**63), 1),
        "flags 6": forged(2, user, 6, now, 1),
        "flags 255": forged(2, user, 255, now, 1),
    }


def test_a_signed_cursor_with_a_field_out_of_range_is_refused(session: Session, ann: User) -> None:
    for name, text in signed_but_out_of_range(uid(ann)).items():
        assert refused_before_any_sql(session, uid(ann), text) == (
            "is malformed or has been altered"
        ), name


@pytest.mark.parametrize("version", [0, 1, 3, 255])
def test_a_cursor_of_another_version_says_so(session: Session, ann: User, version: int) -> None:
    text = forged(version, uid(ann), NEWEST_FIRST_ALL, 0, 1)
    assert refused_before_any_sql(session, uid(ann), text) == (
        "was made by another version of this API"
    )


@pytest.mark.parametrize(
    ("moment", "newest_first", "expected"),
    [
        (datetime.max.replace(tzinfo=UTC), True, 3),  # everything is older
        (datetime.max.replace(tzinfo=UTC), False, 0),
        (datetime.min.replace(tzinfo=UTC), True, 0),
        (datetime.min.replace(tzinfo=UTC), False, 3),  # everything is newer
    ],
)
def test_positions_at_the_edges_of_the_calendar_page_without_error(
    session: Session, ann: User, moment: datetime, newest_first: bool, expected: int
) -> None:
    """The largest ids and the first and last instants a row can have reach the database safely."""
    crud.create_todos(session, uid(ann), [TodoCreate(title=f"t{i}") for i in range(3)])
    cursor = encode_cursor(Position(uid(ann), None, newest_first, moment, MAX_ID))
    page = crud.list_todos(session, uid(ann), cursor=cursor, newest_first=newest_first)
    assert len(page.items) == expected


@pytest.fixture
def cursor_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set `CURSOR_SECRET_KEY` for the process, as a deployment would; unset afterwards."""

    def use(key: str) -> None:
        monkeypatch.setenv("CURSOR_SECRET_KEY", key)
        get_settings.cache_clear()

    yield use
    monkeypatch.delenv("CURSOR_SECRET_KEY", raising=False)
    get_settings.cache_clear()


def test_cursors_signed_with_one_key_are_refused_under_another(
    session: Session, ann: User, cursor_key: Callable[[str], None]
) -> None:
    crud.create_todos(session, uid(ann), [TodoCreate(title=f"t{i}") for i in range(5)])
    cursor_key("Va19ktUsewMDoA_gTAkiO08rLyMlwKTu_MLquQ1cKQQ")
    signed = crud.list_todos(session, uid(ann), limit=2).next_cursor
    assert signed is not None
    assert len(crud.list_todos(session, uid(ann), limit=2, cursor=signed).items) == 2
    cursor_key(
        "kpPG5TqgEMhrHIuUadF6_O87G3MpCxjq36C6GGUNZxY"
    )  # rotated, or another deployment's key
    assert refused_before_any_sql(session, uid(ann), signed) == "is malformed or has been altered"
    cursor_key("Va19ktUsewMDoA_gTAkiO08rLyMlwKTu_MLquQ1cKQQ")
    assert len(crud.list_todos(session, uid(ann), limit=2, cursor=signed).items) == 2


def test_with_a_secret_key_the_public_checksum_no_longer_passes(
    session: Session, ann: User, cursor_key: Callable[[str], None]
) -> None:
    """A client who read this package's source can no longer mint a position."""
    cursor_key("d19oILeXjq411ZX2_A14secs-9u-KmcjjqwDS21KHxQ")
    text = forged(2, uid(ann), NEWEST_FIRST_ALL, micros(datetime(2026, 1, 1, tzinfo=UTC)), 1)
    assert refused_before_any_sql(session, uid(ann), text) == "is malformed or has been altered"


def test_the_key_is_passed_explicitly_too() -> None:
    position = Position(1, True, False, datetime(2026, 1, 1, tzinfo=UTC), 7)
    cursor = encode_cursor(position, key=b"one key of thirty-two bytes or so")
    query = {"user_id": 1, "completed": True, "newest_first": False}
    assert decode_cursor(cursor, key=b"one key of thirty-two bytes or so", **query) == position  # type: ignore[arg-type]
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor, key=b"another key of thirty-two bytes..", **query)  # type: ignore[arg-type]


async def test_async_forged_cursors_are_refused_before_any_sql(
    async_session: AsyncSession, cursor_key: Callable[[str], None]
) -> None:
    ann = await add_user_async(async_session, "ann@example.com")
    await aio.create_todos(async_session, ann, [TodoCreate(title=f"t{i}") for i in range(5)])
    real = (await aio.list_todos(async_session, ann, limit=2)).next_cursor
    assert real is not None
    engine = async_session.sync_session.get_bind().engine
    texts = {**mutations(real), **signed_but_out_of_range(ann), "garbage": "not-a-cursor"}
    for name, text in texts.items():
        with statements_sent(engine) as sent, pytest.raises(InvalidCursorError):
            await aio.list_todos(async_session, ann, cursor=text)
        assert sent == [], name
    assert len((await aio.list_todos(async_session, ann, limit=3, cursor=real)).items) == 3
    cursor_key("s9qC20gcVkKvCm_LqMJmimajEAIxJKQhes2HOMe5t8c")
    with statements_sent(engine) as sent, pytest.raises(InvalidCursorError):
        await aio.list_todos(async_session, ann, cursor=real)
    assert sent == []
