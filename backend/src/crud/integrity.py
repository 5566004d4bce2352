"""Tell which constraint an `IntegrityError` came from, on either backend."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

# SQLite does not name constraints in its errors; it says what failed.
_SQLITE_MESSAGES = {
    "uq_user_email": "UNIQUE constraint failed: user.email",
    "fk_todo_user_id_user": "FOREIGN KEY constraint failed",
}


def violates(exc: IntegrityError, constraint: str) -> bool:
    """Whether `exc` was raised by the named constraint."""
    diag = getattr(exc.orig, "diag", None)
    if diag is not None:  # psycopg2 reports the constraint name
        return bool(diag.constraint_name == constraint)
    return _SQLITE_MESSAGES[constraint] in str(exc.orig)
