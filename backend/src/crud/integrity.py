"""Tell which constraint an `IntegrityError` came from, on every driver."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

# SQLite does not name constraints in its errors; it says what failed.
_SQLITE_MESSAGES = {
    "uq_user_email": "UNIQUE constraint failed: user.email",
    "fk_todo_user_id_user": "FOREIGN KEY constraint failed",
}


def violates(exc: IntegrityError, constraint: str) -> bool:
    """Whether `exc` was raised by the named constraint."""
    name = _constraint_name(exc.orig)
    if name is not None:
        return name == constraint
    return _SQLITE_MESSAGES[constraint] in str(exc.orig)


def _constraint_name(error: BaseException | None) -> str | None:
    diag = getattr(error, "diag", None)  # psycopg2
    if diag is not None:
        return str(diag.constraint_name)
    for candidate in (error, getattr(error, "__cause__", None)):  # asyncpg, maybe wrapped
        name = getattr(candidate, "constraint_name", None)
        if name is not None:
            return str(name)
    return None
