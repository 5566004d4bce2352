"""The tables and their schemas.

Importing this registers both tables on `SQLModel.metadata` and installs the
flush-time validation guard.
"""

from src.models import guard as _guard  # noqa: F401  installs the flush-time guard
from src.models.todo import Todo, TodoCreate, TodoRead, TodoUpdate
from src.models.user import User, UserCreate, UserRead, UserUpdate, email_key

__all__ = [
    "Todo",
    "TodoCreate",
    "TodoRead",
    "TodoUpdate",
    "User",
    "UserCreate",
    "UserRead",
    "UserUpdate",
    "email_key",
]
