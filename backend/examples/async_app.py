"""The example todo service with `async def` endpoints on `src.crud.aio`.

The same endpoints as `sync_app.py`, awaited on an asyncio session
(`AsyncSessionDep`); password hashing runs in a worker thread, so it never
blocks the event loop. See `examples/__init__.py` for how to run it.
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
from src.api import (
    AsyncSessionDep,
    TodoIdPath,
    close_database_on_shutdown,
    register_error_handlers,
    verified_user_id,
)
from src.crud import aio
from src.models import Todo, TodoCreate, TodoRead, TodoUpdate, User, UserCreate, UserRead

signer = TokenSigner(token_secret())
verify_bearer = bearer_verifier(signer)  # 401 unless the request carries a valid token
CurrentUserId = Annotated[int, Depends(verified_user_id(verify_bearer))]
app = FastAPI(title="Todo service (asyncio)", lifespan=close_database_on_shutdown)
register_error_handlers(app)  # 404, 409, 422, 400, 503 + Retry-After, 500; never a trace


@app.post("/todos", status_code=status.HTTP_201_CREATED, response_model=TodoRead)
async def create_todo(body: TodoCreate, session: AsyncSessionDep, user_id: CurrentUserId) -> Todo:
    return await aio.create_todo(session, user_id, body)


@app.get("/todos/counts")
async def count_todos(session: AsyncSessionDep, user_id: CurrentUserId) -> TodoCountsRead:
    return TodoCountsRead.of(await aio.count_todos(session, user_id))


@app.get("/todos/{todo_id}", response_model=TodoRead)
async def read_todo(todo_id: TodoIdPath, session: AsyncSessionDep, user_id: CurrentUserId) -> Todo:
    # Another user's todo is a 404, exactly like a missing one.
    return await aio.get_todo(session, user_id, todo_id)


# README: end


@app.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserRead)
async def register(body: UserCreate, session: AsyncSessionDep) -> User:
    return await aio.create_user(session, body)


@app.post("/login")
async def login(body: LoginRequest, session: AsyncSessionDep) -> TokenRead:
    return token_for(signer, await aio.authenticate(session, body.email, body.password))


@app.get("/todos")
async def list_todos(
    query: Annotated[ListQuery, Query()], session: AsyncSessionDep, user_id: CurrentUserId
) -> TodoPageRead:
    return TodoPageRead.of(await aio.list_todos(session, user_id, **query.model_dump()))


@app.patch("/todos/{todo_id}", response_model=TodoRead)
async def update_todo(
    todo_id: TodoIdPath, body: TodoUpdate, session: AsyncSessionDep, user_id: CurrentUserId
) -> Todo:
    return await aio.update_todo(session, user_id, todo_id, body)


@app.post("/todos/{todo_id}/toggle", response_model=TodoRead)
async def toggle_todo(
    todo_id: TodoIdPath, session: AsyncSessionDep, user_id: CurrentUserId
) -> Todo:
    return await aio.toggle_completed(session, user_id, todo_id)


@app.delete("/todos/{todo_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_todo(
    todo_id: TodoIdPath, session: AsyncSessionDep, user_id: CurrentUserId
) -> None:
    await aio.delete_todo(session, user_id, todo_id)
