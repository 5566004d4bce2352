"""User-scoped data operations: the only way the application reads or writes rows.

Plain functions taking a `Session` first, in the style of
full-stack-fastapi-template; `src.crud.aio` has the same functions for an
`AsyncSession`. See specs/001-db-schema/contracts/database-operations.md.
"""

from src.crud import todos, users
from src.crud.steps import blocking
from src.crud.todos import TodoCounts, TodoPage

create_user = blocking(users.create_user)
get_user = blocking(users.get_user)
get_user_by_email = blocking(users.get_user_by_email)
authenticate = blocking(users.authenticate)
delete_user = blocking(users.delete_user)

create_todo = blocking(todos.create_todo)
create_todos = blocking(todos.create_todos)
get_todo = blocking(todos.get_todo)
update_todo = blocking(todos.update_todo)
set_completed = blocking(todos.set_completed)
toggle_completed = blocking(todos.toggle_completed)
delete_todo = blocking(todos.delete_todo)
list_todos = blocking(todos.list_todos)
count_todos = blocking(todos.count_todos)

__all__ = [
    "TodoCounts",
    "TodoPage",
    "authenticate",
    "count_todos",
    "create_todo",
    "create_todos",
    "create_user",
    "delete_todo",
    "delete_user",
    "get_todo",
    "get_user",
    "get_user_by_email",
    "list_todos",
    "set_completed",
    "toggle_completed",
    "update_todo",
]
