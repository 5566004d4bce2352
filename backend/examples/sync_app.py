"""The example todo service with blocking `def` endpoints on `src.crud`.

FastAPI runs `def` endpoints in its thread pool; each request gets its own
session from the package's pool (`SessionDep`). See `examples/__init__.py`
for how to run it, `auth.py` for the tokens.
"""

# README: begin
from typing import Annotated

from fastapi import Depends, FastAPI, Query, status

from examples.auth import TokenSigner, bearer_verifier, token_secret
from examples.service import (
    ListQuery,
    LoginRequest,
    TodoCountsRead,
    TodoPageRead,
    TokenRead,
    token_for,
)
from src import crud
from src.api import (
    SessionDep,
    TodoIdPath,
    close_database_on_shutdown,
    register_error_handlers,
    verified_user_id,
)
from src.models import Todo, TodoCreate, TodoRead, TodoUpdate, User, UserCreate, UserRead

signer = TokenSigner(token_secret())
verify_bearer = bearer_verifier(signer)  # 401 unless the request carries a valid token
CurrentUserId = Annotated[int, Depends(verified_user_id(verify_bearer))]
app = FastAPI(title="Todo service (blocking)", lifespan=close_database_on_shutdown)
register_error_handlers(app)  # 404, 409, 422, 400, 503 + Retry-After, 500; never a trace


@app.post("/todos", status_code=status.HTTP_201_CREATED, response_model=TodoRead)
def create_todo(body: TodoCreate, session: SessionDep, user_id: CurrentUserId) -> Todo:
    return crud.create_todo(session, user_id, body)


@app.get("/todos/counts")
def count_todos(session: SessionDep, user_id: CurrentUserId) -> TodoCountsRead:
    return TodoCountsRead.of(crud.count_todos(session, user_id))


@app.get("/todos/{todo_id}", response_model=TodoRead)
def read_todo(todo_id: TodoIdPath, session: SessionDep, user_id: CurrentUserId) -> Todo:
    # Another user's todo is a 404, exactly like a missing one.
    return crud.get_todo(session, user_id, todo_id)


# README: end


@app.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserRead)
def register(body: UserCreate, session: SessionDep) -> User:
    return crud.create_user(session, body)


@app.post("/login")
def login(body: LoginRequest, session: SessionDep) -> TokenRead:
    return token_for(signer, crud.authenticate(session, body.email, body.password))


@app.get("/todos")
def list_todos(
    query: Annotated[ListQuery, Query()], session: SessionDep, user_id: CurrentUserId
) -> TodoPageRead:
    return TodoPageRead.of(crud.list_todos(session, user_id, **query.model_dump()))


@app.patch("/todos/{todo_id}", response_model=TodoRead)
def update_todo(
    todo_id: TodoIdPath, body: TodoUpdate, session: SessionDep, user_id: CurrentUserId
) -> Todo:
    return crud.update_todo(session, user_id, todo_id, body)


@app.post("/todos/{todo_id}/toggle", response_model=TodoRead)
def toggle_todo(todo_id: TodoIdPath, session: SessionDep, user_id: CurrentUserId) -> Todo:
    return crud.toggle_completed(session, user_id, todo_id)


@app.delete("/todos/{todo_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_todo(todo_id: TodoIdPath, session: SessionDep, user_id: CurrentUserId) -> None:
    crud.delete_todo(session, user_id, todo_id)
