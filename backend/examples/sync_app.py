"""The example todo service with blocking `def` endpoints on `src.crud`.

FastAPI runs `def` endpoints in its thread pool; each request gets its own
session from the package's pool (`SessionDep`). See `examples/__init__.py`
for how to run it, `auth.py` for the tokens.
"""

# README: begin
from typing import Annotated

from fastapi import Depends, FastAPI, Query, status

from examples.auth import token_settings
from examples.service import (
    DeactivationRequest,
    ListQuery,
    LoginRequest,
    SearchQuery,
    TodoCountsRead,
    TodoPageRead,
    TokenRead,
    token_for,
)
from src import crud
from src.api import (
    SessionDep,
    TodoIdPath,
    TokenIssuer,
    TokenVerifier,
    database_lifespan,
    error_responses,
    register_error_handlers,
)
from src.api.active_accounts import ActiveAccounts, read_blocking
from src.models import (
    Todo,
    TodoCreate,
    TodoRead,
    TodoUpdate,
    User,
    UserCreate,
    UserRead,
    UserUpdate,
)

tokens = token_settings()  # HS256 JWTs keyed by EXAMPLE_TOKEN_SECRET (examples/auth.py)
issuer = TokenIssuer(tokens)  # POST /login answers with its tokens
verify_bearer = TokenVerifier(tokens)  # 401 unless the request carries a valid JWT
accounts = ActiveAccounts(read_blocking)  # 401 for a deactivated account's tokens
CurrentUserId = Annotated[int, Depends(accounts.current_user_id(verify_bearer))]
app = FastAPI(title="Todo service (blocking)", lifespan=database_lifespan)
register_error_handlers(app)  # 400, 404, 405 + Allow, 409, 422, 503 + Retry-After, 500; no trace


@app.post(
    "/todos",
    status_code=status.HTTP_201_CREATED,
    response_model=TodoRead,
    responses=error_responses(401, 422),
)
def create_todo(body: TodoCreate, session: SessionDep, user_id: CurrentUserId) -> Todo:
    return crud.create_todo(session, user_id, body)


@app.get("/todos/counts", responses=error_responses(401, 422))
def count_todos(
    session: SessionDep, user_id: CurrentUserId, search: SearchQuery = None
) -> TodoCountsRead:
    return TodoCountsRead.of(crud.count_todos(session, user_id, search=search))


@app.get("/todos/{todo_id}", response_model=TodoRead, responses=error_responses(401, 404, 422))
def read_todo(todo_id: TodoIdPath, session: SessionDep, user_id: CurrentUserId) -> Todo:
    # Another user's todo is a 404, exactly like a missing one.
    return crud.get_todo(session, user_id, todo_id)


# README: end


@app.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=error_responses(409, 422),
)
def register(body: UserCreate, session: SessionDep) -> User:
    return crud.create_user(session, body)


@app.post("/login", responses=error_responses(401, 422))
def login(body: LoginRequest, session: SessionDep) -> TokenRead:
    return token_for(issuer, crud.authenticate(session, body.email, body.password))


@app.patch("/users/me", response_model=UserRead, responses=error_responses(401, 409, 422))
def update_me(body: UserUpdate, session: SessionDep, user_id: CurrentUserId) -> User:
    # The current password confirms every change: a stolen token cannot take the account.
    return crud.update_user(session, user_id, body)


@app.post(
    "/users/me/deactivate",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 422),
)
def deactivate_me(body: DeactivationRequest, session: SessionDep, user_id: CurrentUserId) -> None:
    # Login and every token of the account are refused from now on; only an operator
    # (crud.set_active) opens it again. Its todos are kept.
    crud.deactivate_user(session, user_id, body.current_password)
    accounts.forget(user_id)


@app.get("/todos", responses=error_responses(400, 401, 422))
def list_todos(
    query: Annotated[ListQuery, Query()], session: SessionDep, user_id: CurrentUserId
) -> TodoPageRead:
    return TodoPageRead.of(crud.list_todos(session, user_id, **query.model_dump()))


@app.patch("/todos/{todo_id}", response_model=TodoRead, responses=error_responses(401, 404, 422))
def update_todo(
    todo_id: TodoIdPath, body: TodoUpdate, session: SessionDep, user_id: CurrentUserId
) -> Todo:
    return crud.update_todo(session, user_id, todo_id, body)


@app.post(
    "/todos/{todo_id}/toggle", response_model=TodoRead, responses=error_responses(401, 404, 422)
)
def toggle_todo(todo_id: TodoIdPath, session: SessionDep, user_id: CurrentUserId) -> Todo:
    return crud.toggle_completed(session, user_id, todo_id)


@app.delete(
    "/todos/{todo_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
def delete_todo(todo_id: TodoIdPath, session: SessionDep, user_id: CurrentUserId) -> None:
    crud.delete_todo(session, user_id, todo_id)
