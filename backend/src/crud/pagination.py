"""Opaque keyset cursors for `list_todos`.

A cursor is base64url JSON plus a BLAKE2b checksum. The checksum catches
edited or truncated cursors and gives a clear error; it is not what keeps
users apart (every query is scoped to the caller's `user_id` regardless), so
it needs no secret key. The cursor also records whose list and which filter
and order it continues, and is refused anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from src.errors import InvalidCursorError

_CHECKSUM_BYTES = 12
_VERSION = 1


@dataclass(frozen=True, slots=True)
class Position:
    """The last row of a page, and the query the page belonged to."""

    user_id: int
    completed: bool | None
    newest_first: bool
    created_at: datetime
    todo_id: int


def encode_cursor(position: Position) -> str:
    payload = json.dumps(
        [
            _VERSION,
            position.user_id,
            position.completed,
            position.newest_first,
            position.created_at.astimezone(UTC).isoformat(),
            position.todo_id,
        ],
        separators=(",", ":"),
    ).encode()
    return _b64(payload) + "." + _b64(_checksum(payload))


def decode_cursor(
    cursor: str, *, user_id: int, completed: bool | None, newest_first: bool
) -> Position:
    """The position `cursor` points at, if it belongs to exactly this query."""
    body, _, checksum = cursor.partition(".")
    try:
        payload = _unb64(body)
        valid = _unb64(checksum) == _checksum(payload)
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise InvalidCursorError("is malformed or has been altered")
    try:
        version, owner, filter_, order, created_at, todo_id = json.loads(payload)
        position = Position(owner, filter_, order, datetime.fromisoformat(created_at), todo_id)
    except (ValueError, TypeError):
        raise InvalidCursorError("is malformed or has been altered") from None
    if not _well_typed(position):
        raise InvalidCursorError("is malformed or has been altered")
    if version != _VERSION:
        raise InvalidCursorError("was made by another version of this API")
    if (position.user_id, position.completed, position.newest_first) != (
        user_id,
        completed,
        newest_first,
    ):
        raise InvalidCursorError("belongs to another list; start again without a cursor")
    return position


def _well_typed(position: Position) -> bool:
    def is_int(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    return (
        is_int(position.user_id)
        and is_int(position.todo_id)
        and position.completed in (None, True, False)
        and isinstance(position.newest_first, bool)
        and position.created_at.utcoffset() is not None
    )


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CHECKSUM_BYTES, person=b"todo-cursor").digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
