"""The user-scoped operations for an `AsyncSession`: the same operations as `src.crud`.

    todo = await aio.create_todo(session, user_id, TodoCreate(title="..."))

Password hashing runs in a worker thread so it never blocks the event loop.
"""

from src.crud import todos, users
from src.crud.steps import awaitable
from src.crud.todos import TodoCounts, TodoPage

create_user = awaitable(users.create_user)
get_user = awaitable(users.get_user)
get_user_by_email = awaitable(users.get_user_by_email)
authenticate = awaitable(users.authenticate)
delete_user = awaitable(users.delete_user)

create_todo = awaitable(todos.create_todo)
create_todos = awaitable(todos.create_todos)
get_todo = awaitable(todos.get_todo)
update_todo = awaitable(todos.update_todo)
set_completed = awaitable(todos.set_completed)
toggle_completed = awaitable(todos.toggle_completed)
delete_todo = awaitable(todos.delete_todo)
list_todos = awaitable(todos.list_todos)
count_todos = awaitable(todos.count_todos)

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
