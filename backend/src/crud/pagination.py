"""Opaque keyset cursors for `list_todos`: only a cursor this package minted is accepted.

A cursor is the unpadded base64url text of 26 bytes of position (version,
user id, filter and order, `created_at` in microseconds since 1970 UTC, todo
id; big-endian, fixed width) followed by their HMAC-SHA256 under
`CURSOR_SECRET_KEY`. `decode_cursor` accepts exactly the text `encode_cursor`
would have written: one length, one alphabet, no padding, no whitespace,
canonical base64 (it decodes, re-encodes and compares), a tag that verifies,
and every field in its range. Anything else is `InvalidCursorError`, raised
before any SQL is sent.

A search's cursor is bound to its search text (as the query uses it, lower
case) through the tag: the HMAC covers the position followed by NUL and the
text, which the cursor does not carry. A cursor offered with another search,
or without one, fails to verify; a list without search signs the position
alone, as before searches existed, so earlier cursors stay valid.

The tag is not what keeps users apart: every query is scoped to the caller's
`user_id` whatever the cursor says (research.md, section 8). It stops
hand-made positions and turns edits, truncation and stale cursors into one
clear error. Without `CURSOR_SECRET_KEY` (allowed outside production) the key
is a fixed public one, so the tag is a checksum anyone could recompute.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from src.config.settings import get_settings
from src.crud.arguments import MAX_ID
from src.errors import InvalidCursorError

logger = logging.getLogger(__name__)

VERSION = 2
_POSITION = struct.Struct(">BQBqQ")  # version, user_id, query flags, created_at µs, todo_id
_TAG_BYTES = hashlib.sha256().digest_size
_TEXT_LENGTH = len(base64.urlsafe_b64encode(bytes(_POSITION.size + _TAG_BYTES)).rstrip(b"="))
_TEXT = re.compile(rf"[A-Za-z0-9_-]{{{_TEXT_LENGTH}}}")
_DOMAIN = b"todo-cursor\x00"  # the key signs nothing else, even if it is reused elsewhere
# Without CURSOR_SECRET_KEY: public, so cursors are checksummed, not signed.
UNKEYED = b"todo-cursor: no CURSOR_SECRET_KEY set; this key is public"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Every instant an aware UTC datetime can hold, so a real row always has a cursor.
_FIRST_MICROS = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_LAST_MICROS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
# (completed, newest_first) <-> one byte; any other byte is refused.
_QUERY_FLAGS = {
    (completed, newest_first): index * 2 + newest_first
    for index, completed in enumerate((None, False, True))
    for newest_first in (False, True)
}
_QUERY_OF_FLAGS = {flags: query for query, flags in _QUERY_FLAGS.items()}

_MALFORMED = "is malformed or has been altered"
_ANOTHER_LIST = "belongs to another list; start again without a cursor"
_MALFORMED_OR_ANOTHER_SEARCH = (
    "is malformed, has been altered or belongs to another search; start again without a cursor"
)


@dataclass(frozen=True, slots=True)
class Position:
    """The last row of a page, and the query the page belonged to."""

    user_id: int
    completed: bool | None
    newest_first: bool
    created_at: datetime
    todo_id: int
    search: str | None = None  # the search text as the query used it; None without search


def signing_key() -> bytes:
    """The key cursors are signed with: `CURSOR_SECRET_KEY`, or the public development key."""
    secret = get_settings().cursor_secret_key
    if secret is None:
        _note_unkeyed()
        return UNKEYED
    return secret.get_secret_value().encode()


@functools.cache
def _note_unkeyed() -> None:
    logger.info(
        "CURSOR_SECRET_KEY is not set: pagination cursors carry a checksum anyone can "
        "recompute instead of a signature (required when APP_ENV=production)"
    )


def encode_cursor(position: Position, *, key: bytes | None = None) -> str:
    """The cursor of `position`, signed with `key` (by default `signing_key()`)."""
    micros = (position.created_at - _EPOCH) // timedelta(microseconds=1)
    flags = _QUERY_FLAGS[(position.completed, position.newest_first)]
    payload = _POSITION.pack(VERSION, position.user_id, flags, micros, position.todo_id)
    return seal(payload, key=signing_key() if key is None else key, search=position.search)


def seal(payload: bytes, *, key: bytes, search: str | None = None) -> str:
    """`payload` and its tag under `key` (bound to `search`, if given), as cursor text."""
    tag = _tag(key, payload, search)
    return base64.urlsafe_b64encode(payload + tag).rstrip(b"=").decode("ascii")


def _tag(key: bytes, payload: bytes, search: str | None) -> bytes:
    # The search text has no NUL (a search rule) and the payload a fixed length: unambiguous.
    bound = b"" if search is None else b"\x00" + search.encode("utf-8")
    return hmac.digest(key, _DOMAIN + payload + bound, "sha256")


def decode_cursor(
    cursor: str,
    *,
    user_id: int,
    completed: bool | None,
    newest_first: bool,
    search: str | None = None,
    key: bytes | None = None,
) -> Position:
    """The position `cursor` points at, if this package minted it for exactly this query."""
    position = _unseal(cursor, signing_key() if key is None else key, search)
    if (position.user_id, position.completed, position.newest_first) != (
        user_id,
        completed,
        newest_first,
    ):
        raise InvalidCursorError(_ANOTHER_LIST)
    return position


def _unseal(cursor: str, key: bytes, search: str | None) -> Position:
    if not isinstance(cursor, str) or not _TEXT.fullmatch(cursor):
        raise InvalidCursorError(_MALFORMED)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))  # the pattern admits it
    # Several texts decode to the same bytes (unused low bits); only the one we write is ours.
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != cursor.encode("ascii"):
        raise InvalidCursorError(_MALFORMED)
    payload, tag = raw[: _POSITION.size], raw[_POSITION.size :]
    if not hmac.compare_digest(tag, _tag(key, payload, search)):
        if search is None:  # a search's cursor too: without its text, nothing tells them apart
            raise InvalidCursorError(_MALFORMED)
        if hmac.compare_digest(tag, _tag(key, payload, None)):
            raise InvalidCursorError(_ANOTHER_LIST)  # a cursor of the list without search
        raise InvalidCursorError(_MALFORMED_OR_ANOTHER_SEARCH)
    version, user_id, flags, micros, todo_id = _POSITION.unpack(payload)
    if version != VERSION:
        raise InvalidCursorError("was made by another version of this API")
    query = _QUERY_OF_FLAGS.get(flags)
    if (
        query is None
        or not 1 <= user_id <= MAX_ID
        or not 1 <= todo_id <= MAX_ID
        or not _FIRST_MICROS <= micros <= _LAST_MICROS
    ):
        raise InvalidCursorError(_MALFORMED)
    created_at = _EPOCH + timedelta(microseconds=micros)
    return Position(user_id, query[0], query[1], created_at, todo_id, search)
