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
    """The constraint PostgreSQL named (psycopg2 and psycopg 3 both carry `diag`); SQLite: None."""
    diag = getattr(error, "diag", None)
    if diag is None or diag.constraint_name is None:
        return None
    return str(diag.constraint_name)
