"""The package's exception types: one family, so callers can catch them together.

None of them is a `ValueError`, on purpose: pydantic wraps `ValueError`s raised
in validators together with the raw input, which for `DATABASE_URL` would
carry the password; these propagate as they are.
"""

from __future__ import annotations


class DataLayerError(Exception):
    """Base class of every error this package raises on purpose."""


class DatabaseURLError(DataLayerError):
    """`DATABASE_URL` breaks a rule; the message names the rule, never the password."""

    def __init__(self, rule: str) -> None:
        super().__init__(f"DATABASE_URL: {rule}")
        self.rule = rule


class SettingsError(DataLayerError):
    """Settings break their rules: one line naming each variable and its rule, no value."""

    def __init__(self, message: str, settings: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.settings = settings  # the variables named, in order (`DB_POOL_SIZE`, ...)


class SettingsFileError(DataLayerError):
    """A settings file (`.env`) cannot be read as text; the message names the file, no value."""


class DatabaseConnectionError(DataLayerError):
    """The database could not be reached; the message carries the masked URL and cause."""


class SchemaRevisionError(DataLayerError):
    """The database is not at the package's head revision; the message names the fix."""


class DatabaseRoleError(DataLayerError):
    """A role cannot be given the part asked of it (`python -m src.database.roles`)."""

    def __init__(self, role: str, rule: str) -> None:
        super().__init__(f"role {role!r}: {rule}")
        self.role = role
        self.rule = rule


class NotFoundError(DataLayerError):
    """The row does not exist for this caller; another user's row looks exactly the same."""


class UserNotFoundError(NotFoundError):
    def __init__(self, user_id: int) -> None:
        super().__init__(f"user {user_id} not found")
        self.user_id = user_id


class TodoNotFoundError(NotFoundError):
    def __init__(self, todo_id: int) -> None:
        super().__init__(f"todo {todo_id} not found")
        self.todo_id = todo_id


class DuplicateEmailError(DataLayerError):
    """An account with this email (in any letter case) already exists."""

    def __init__(self, email: str) -> None:
        super().__init__(f"email: an account with {email!r} already exists")
        self.email = email


class IncorrectPasswordError(DataLayerError):
    """The password sent to confirm an account change is not the account's; nothing changed.

    Raised as a failed login is answered: after the same wait, and also for a
    deactivated account (which no password confirms), so neither the answer
    nor its time tells more. `field` is the argument (and request field) at fault.
    """

    def __init__(self, field: str = "current_password") -> None:
        super().__init__(f"{field}: does not match the account's password")
        self.field = field


class InvalidCursorError(DataLayerError):
    """A pagination cursor was altered, belongs to another query, or is not a cursor."""

    def __init__(self, rule: str) -> None:
        super().__init__(f"cursor: {rule}")
        self.rule = rule


class SessionConfigurationError(DataLayerError):
    """An operation was given a session or engine it cannot name users on.

    On PostgreSQL the user must be named to row security with each statement;
    only engines built by the package's engine factory (`build_engine`,
    `build_async_engine`, `get_engine`) do that. A session made any way on
    such an engine (`Session(engine)`, `new_session`, `get_session`) works.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"session: {reason}")
        self.reason = reason


class PoolExhaustedError(DataLayerError):
    """Every pooled connection stayed busy for the whole pool timeout."""

    def __init__(self, size: int, overflow: int, timeout_s: float) -> None:
        super().__init__(
            f"all {size + overflow} database connections (DB_POOL_SIZE={size}, "
            f"DB_MAX_OVERFLOW={overflow}) stayed busy for {timeout_s:g} s "
            "(DB_POOL_TIMEOUT_S); shorten transactions or raise the pool size"
        )


class InMemoryDatabaseBusyError(DataLayerError):
    """The in-memory SQLite database's one connection is lent to another transaction.

    It serves one transaction at a time (`src.database.memory_pool`); a file
    database (`sqlite:///todo.db`) or PostgreSQL serves overlapping ones.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"in-memory SQLite database: {reason}")
        self.reason = reason
