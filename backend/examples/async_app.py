"""The example todo service with `async def` endpoints on `src.crud.aio`.

The same endpoints as `sync_app.py`, awaited on an asyncio session
(`AsyncSessionDep`); password hashing runs in a worker thread, so it never
blocks the event loop. See `examples/__init__.py` for how to run it.
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
from src.api import (
    AsyncSessionDep,
    TodoIdPath,
    TokenIssuer,
    TokenVerifier,
    database_lifespan,
    error_responses,
    register_error_handlers,
)
from src.api.active_accounts import ActiveAccounts, read_async
from src.crud import aio
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
accounts = ActiveAccounts(read_async)  # 401 for a deactivated account's tokens
CurrentUserId = Annotated[int, Depends(accounts.current_user_id(verify_bearer))]
app = FastAPI(title="Todo service (asyncio)", lifespan=database_lifespan)
register_error_handlers(app)  # 400, 404, 405 + Allow, 409, 422, 503 + Retry-After, 500; no trace


@app.post(
    "/todos",
    status_code=status.HTTP_201_CREATED,
    response_model=TodoRead,
    responses=error_responses(401, 422),
)
async def create_todo(body: TodoCreate, session: AsyncSessionDep, user_id: CurrentUserId) -> Todo:
    return await aio.create_todo(session, user_id, body)


@app.get("/todos/counts", responses=error_responses(401, 422))
async def count_todos(
    session: AsyncSessionDep, user_id: CurrentUserId, search: SearchQuery = None
) -> TodoCountsRead:
    return TodoCountsRead.of(await aio.count_todos(session, user_id, search=search))


@app.get("/todos/{todo_id}", response_model=TodoRead, responses=error_responses(401, 404, 422))
async def read_todo(todo_id: TodoIdPath, session: AsyncSessionDep, user_id: CurrentUserId) -> Todo:
    # Another user's todo is a 404, exactly like a missing one.
    return await aio.get_todo(session, user_id, todo_id)


# README: end


@app.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=error_responses(409, 422),
)
async def register(body: UserCreate, session: AsyncSessionDep) -> User:
    return await aio.create_user(session, body)


@app.post("/login", responses=error_responses(401, 422))
async def login(body: LoginRequest, session: AsyncSessionDep) -> TokenRead:
    return token_for(issuer, await aio.authenticate(session, body.email, body.password))


@app.patch("/users/me", response_model=UserRead, responses=error_responses(401, 409, 422))
async def update_me(body: UserUpdate, session: AsyncSessionDep, user_id: CurrentUserId) -> User:
    # The current password confirms every change: a stolen token cannot take the account.
    return await aio.update_user(session, user_id, body)


@app.post(
    "/users/me/deactivate",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 422),
)
async def deactivate_me(
    body: DeactivationRequest, session: AsyncSessionDep, user_id: CurrentUserId
) -> None:
    # Login and every token of the account are refused from now on; only an operator
    # (crud.set_active) opens it again. Its todos are kept.
    await aio.deactivate_user(session, user_id, body.current_password)
    accounts.forget(user_id)


@app.get("/todos", responses=error_responses(400, 401, 422))
async def list_todos(
    query: Annotated[ListQuery, Query()], session: AsyncSessionDep, user_id: CurrentUserId
) -> TodoPageRead:
    return TodoPageRead.of(await aio.list_todos(session, user_id, **query.model_dump()))


@app.patch("/todos/{todo_id}", response_model=TodoRead, responses=error_responses(401, 404, 422))
async def update_todo(
    todo_id: TodoIdPath, body: TodoUpdate, session: AsyncSessionDep, user_id: CurrentUserId
) -> Todo:
    return await aio.update_todo(session, user_id, todo_id, body)


@app.post(
    "/todos/{todo_id}/toggle", response_model=TodoRead, responses=error_responses(401, 404, 422)
)
async def toggle_todo(
    todo_id: TodoIdPath, session: AsyncSessionDep, user_id: CurrentUserId
) -> Todo:
    return await aio.toggle_completed(session, user_id, todo_id)


@app.delete(
    "/todos/{todo_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
async def delete_todo(
    todo_id: TodoIdPath, session: AsyncSessionDep, user_id: CurrentUserId
) -> None:
    await aio.delete_todo(session, user_id, todo_id)
