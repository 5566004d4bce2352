"""User-scoped data operations: the only way the application reads or writes rows.

Plain functions taking a SQLAlchemy `Session` first (a `sqlmodel.Session` is
one), in the style of full-stack-fastapi-template's `crud.py`; `src.crud.aio`
has the same functions for an `AsyncSession`. See
specs/001-db-schema/contracts/database-operations.md.
"""

from src.crud.accounts import deactivate_user, set_active, update_user
from src.crud.todos import (
    TodoCounts,
    TodoPage,
    count_todos,
    create_todo,
    create_todos,
    delete_todo,
    get_todo,
    list_todos,
    set_completed,
    toggle_completed,
    update_todo,
)
from src.crud.users import authenticate, create_user, delete_user, get_user, get_user_by_email

__all__ = [
    "TodoCounts",
    "TodoPage",
    "authenticate",
    "count_todos",
    "create_todo",
    "create_todos",
    "create_user",
    "deactivate_user",
    "delete_todo",
    "delete_user",
    "get_todo",
    "get_user",
    "get_user_by_email",
    "list_todos",
    "set_active",
    "set_completed",
    "toggle_completed",
    "update_todo",
    "update_user",
]
