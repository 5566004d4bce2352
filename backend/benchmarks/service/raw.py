"""The raw-driver limit of the service benchmark: the example service's API on the bare driver.

The same paths, methods, status codes and JSON shapes as the example service
(`examples/sync_app.py`), with the same request and response models
(`src.models`, `examples.service`), the same bearer tokens (`examples.auth`),
the same password hashing (`src.security.passwords`) and the same keyset
cursors (`src.crud.pagination`), but no data layer: `def` endpoints on a
`psycopg_pool.ConnectionPool` of psycopg 3 connections, each in autocommit: a
fixed pool (psycopg_pool's advice) as large as the package's default one
(`DB_POOL_SIZE` 20 per worker), filled before the service answers, so no
login falls into a measured run.

Every todo request is ONE Query message: `SET LOCAL app.current_user_id =
'<id>'; <statement>`, bound on the client (`psycopg.ClientCursor`, the simple
query protocol), so PostgreSQL runs the naming and the statement as one
implicit transaction, exactly as the package does (`src.models.row_security`);
the statements are the ones the package sends (`src.crud.statements` as
compiled for PostgreSQL; whitespace aside). It runs on the package's database,
row-level security on, as the application role, so what it costs is what the
package's own SQL costs with nothing in between: the limit the package's
service is measured against.

    DATABASE_URL=... EXAMPLE_TOKEN_SECRET=... uvicorn benchmarks.service.raw:app --workers 2
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import ClientCursor, Connection, errors
from psycopg_pool import ConnectionPool
from pydantic import TypeAdapter, ValidationError

from examples.auth import token_settings
from examples.service import ListQuery, LoginRequest, TodoCountsRead, TodoPageRead, TokenRead
from src.api.errors import field_errors
from src.api.tokens import TokenIssuer, TokenVerifier
from src.crud.arguments import Cursor, PageSize, RowId
from src.crud.pagination import Position, decode_cursor, encode_cursor
from src.errors import InvalidCursorError
from src.models import TodoCreate, TodoRead, TodoUpdate, UserCreate, UserRead
from src.models.row_security import naming_sql
from src.models.user import email_key_or_none
from src.security.passwords import burn_verification_time, hash_password, verify_password

Row = tuple[Any, ...]
T = TypeVar("T")
POOL_SIZE = 20  # the package's default pool per process (DB_POOL_SIZE, no overflow)

# --- the package's SQL, as PostgreSQL receives it (psycopg placeholders) ------------------
TODO_COLUMNS = (
    "todo.created_at, todo.updated_at, todo.title, todo.description, todo.completed, "
    "todo.id, todo.user_id"
)
TODO_FIELDS = ("created_at", "updated_at", "title", "description", "completed", "id", "user_id")
INSERT_TODO = (
    "INSERT INTO todo (created_at, updated_at, title, description, completed, user_id) "
    "VALUES (%s, %s, %s, %s, %s, %s) RETURNING todo.id"
)
# Only constants are joined into SQL here (S608); every value is a bound parameter.
GET_TODO = f"SELECT {TODO_COLUMNS} FROM todo WHERE todo.user_id = %s AND todo.id = %s"  # noqa: S608
COUNT_TODOS = (
    "SELECT todo.completed, count(*) AS count_1 FROM todo "
    "WHERE todo.user_id = %s GROUP BY todo.completed"
)
DELETE_TODO = "DELETE FROM todo WHERE todo.user_id = %s AND todo.id = %s"
TOGGLE_TODO = (
    "UPDATE todo SET updated_at=%s, completed=NOT todo.completed "  # noqa: S608
    f"WHERE todo.user_id = %s AND todo.id = %s RETURNING {TODO_COLUMNS}"
)
UPDATABLE = ("title", "description", "completed")  # in table order, as SQLAlchemy renders SET
INSERT_USER = (
    'INSERT INTO "user" (created_at, updated_at, email, hashed_password) '
    'VALUES (%s, %s, %s, %s) RETURNING "user".id'
)
USER_BY_EMAIL = (
    'SELECT "user".created_at, "user".updated_at, "user".email, "user".id, '
    '"user".hashed_password FROM "user" WHERE "user".email = %s'
)
REHASH_USER = 'UPDATE "user" SET updated_at=%s, hashed_password=%s WHERE "user".id = %s'


@functools.cache
def page_sql(*, filtered: bool, after_cursor: bool, newest_first: bool) -> str:
    """`list_todos`'s query for one combination of filter, cursor and order."""
    where = "todo.user_id = %s"
    if filtered:
        where += " AND todo.completed = %s"
    if after_cursor:
        where += f" AND (todo.created_at, todo.id) {'<' if newest_first else '>'} (%s, %s)"
    direction = "DESC" if newest_first else "ASC"
    return (
        f"SELECT {TODO_COLUMNS} FROM todo WHERE {where} "  # noqa: S608  constants only
        f"ORDER BY todo.created_at {direction}, todo.id {direction} LIMIT %s"
    )


@functools.cache
def update_sql(columns: tuple[str, ...]) -> str:
    """The UPDATE ... RETURNING of `update_todo` for one set of changed columns."""
    assignments = "".join(f", {name}=%s" for name in columns)
    return (
        f"UPDATE todo SET updated_at=%s{assignments} "  # noqa: S608  column names from UPDATABLE
        f"WHERE todo.user_id = %s AND todo.id = %s RETURNING {TODO_COLUMNS}"
    )


# --- the driver ---------------------------------------------------------------------------
pool: ConnectionPool[Connection[Row]] = ConnectionPool(
    os.environ["DATABASE_URL"],
    kwargs={"autocommit": True, "application_name": "todo-raw-service", "connect_timeout": 10},
    min_size=POOL_SIZE,
    timeout=10,
    open=False,
)


def run_as(user_id: int, statement: str, parameters: Sequence[Any]) -> tuple[list[Row], int]:
    """Rows and row count of `statement` run as `user_id`: one Query message, one round trip."""
    with pool.connection() as connection, ClientCursor(connection) as cursor:
        cursor.execute(f"{naming_sql(user_id)}; {statement}", parameters)
        while cursor.nextset():  # past the SET's result, to the statement's
            pass
        rows = cursor.fetchall() if cursor.description is not None else []
        return rows, cursor.rowcount


def run(statement: str, parameters: Sequence[Any]) -> Row | None:
    """The first row of an account statement (the `user` table has no row security)."""
    with pool.connection() as connection, ClientCursor(connection) as cursor:
        cursor.execute(statement, parameters)
        return cursor.fetchone() if cursor.description is not None else None


def todo_of(row: Row) -> dict[str, Any]:
    todo = dict(zip(TODO_FIELDS, row, strict=True))
    todo["created_at"] = todo["created_at"].astimezone(UTC)
    todo["updated_at"] = todo["updated_at"].astimezone(UTC)
    return todo


# --- the rules the package's operations check before any SQL ------------------------------
_ROW_ID: TypeAdapter[int] = TypeAdapter(RowId)
_PAGE_SIZE: TypeAdapter[int] = TypeAdapter(PageSize)
_CURSOR: TypeAdapter[str] = TypeAdapter(Cursor)


def checked(name: str, rule: TypeAdapter[T], value: T) -> T:
    """`value` if it keeps `rule`; else the 422 the package answers, naming the argument."""
    try:
        return rule.validate_python(value, strict=True)
    except ValidationError as exc:
        detail = [{"loc": [name], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None


def not_found(todo_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"todo {todo_id} not found")


# --- the service --------------------------------------------------------------------------
@asynccontextmanager
async def open_pool(_app: FastAPI) -> AsyncIterator[None]:
    pool.open(wait=True)
    try:
        yield
    finally:
        pool.close()


tokens = token_settings()
issuer = TokenIssuer(tokens)
CurrentUser = Annotated[int, Depends(TokenVerifier(tokens))]
app = FastAPI(title="Todo service (raw driver)", lifespan=open_pool)


@app.exception_handler(RequestValidationError)
async def request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming the field and the rule, never the input (as `src.api` answers it)."""
    return JSONResponse({"detail": field_errors(exc.errors())}, status_code=422)


@app.post("/todos", status_code=status.HTTP_201_CREATED, response_model=TodoRead)
def create_todo(body: TodoCreate, user_id: CurrentUser) -> dict[str, Any]:
    user_id = checked("user_id", _ROW_ID, user_id)
    now = datetime.now(UTC)
    values = (now, now, body.title, body.description, body.completed, user_id)
    try:
        rows, _ = run_as(user_id, INSERT_TODO, values)
    except errors.ForeignKeyViolation:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"user {user_id} not found") from None
    return dict(zip(TODO_FIELDS, (*values[:-1], rows[0][0], user_id), strict=True))


@app.get("/todos/counts", response_model=TodoCountsRead)
def count_todos(user_id: CurrentUser) -> dict[str, int]:
    user_id = checked("user_id", _ROW_ID, user_id)
    rows, _ = run_as(user_id, COUNT_TODOS, (user_id,))
    by_status = {bool(done): int(n) for done, n in rows}
    done, pending = by_status.get(True, 0), by_status.get(False, 0)
    return {"total": done + pending, "completed": done, "open": pending}


@app.get("/todos/{todo_id}", response_model=TodoRead)
def read_todo(todo_id: int, user_id: CurrentUser) -> dict[str, Any]:
    user_id = checked("user_id", _ROW_ID, user_id)
    todo_id = checked("todo_id", _ROW_ID, todo_id)
    rows, _ = run_as(user_id, GET_TODO, (user_id, todo_id))
    if not rows:  # another user's todo is a 404, exactly like a missing one
        raise not_found(todo_id)
    return todo_of(rows[0])


@app.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserRead)
def register(body: UserCreate) -> dict[str, Any]:
    password_hash = hash_password(body.password)
    now = datetime.now(UTC)
    try:
        row = run(INSERT_USER, (now, now, body.email, password_hash))
    except errors.UniqueViolation:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "email: an account with this email already exists"
        ) from None
    assert row is not None
    return {"email": body.email, "id": row[0], "created_at": now, "updated_at": now}


@app.post("/login")
def login(body: LoginRequest) -> TokenRead:
    key = email_key_or_none(body.email)
    row = None if key is None else run(USER_BY_EMAIL, (key,))
    if row is None:  # an unknown email costs what a wrong password does
        burn_verification_time(body.password)
        valid = False
    else:
        valid, new_hash = verify_password(body.password, row[4])
        if valid and new_hash is not None:
            run(REHASH_USER, (datetime.now(UTC), new_hash, row[3]))
    if row is None or not valid:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return TokenRead(access_token=issuer.issue(row[3]))


@app.get("/todos", response_model=TodoPageRead)
def list_todos(query: Annotated[ListQuery, Query()], user_id: CurrentUser) -> dict[str, Any]:
    user_id = checked("user_id", _ROW_ID, user_id)
    limit = checked("limit", _PAGE_SIZE, query.limit)
    completed, newest_first = query.completed, query.newest_first
    parameters: list[Any] = [user_id]
    if completed is not None:
        parameters.append(completed)
    if query.cursor is not None:
        cursor = checked("cursor", _CURSOR, query.cursor)
        try:
            after = decode_cursor(
                cursor, user_id=user_id, completed=completed, newest_first=newest_first
            )
        except InvalidCursorError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
        parameters += [after.created_at, after.todo_id]
    parameters.append(limit + 1)  # one more row: is there a next page?
    statement = page_sql(
        filtered=completed is not None,
        after_cursor=query.cursor is not None,
        newest_first=newest_first,
    )
    rows, _ = run_as(user_id, statement, parameters)
    items = [todo_of(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        position = Position(user_id, completed, newest_first, last["created_at"], last["id"])
        next_cursor = encode_cursor(position)
    return {"items": items, "next_cursor": next_cursor}


@app.patch("/todos/{todo_id}", response_model=TodoRead)
def update_todo(todo_id: int, body: TodoUpdate, user_id: CurrentUser) -> dict[str, Any]:
    user_id = checked("user_id", _ROW_ID, user_id)
    todo_id = checked("todo_id", _ROW_ID, todo_id)
    changes = body.model_dump(exclude_unset=True)
    columns = tuple(name for name in UPDATABLE if name in changes)
    values = (datetime.now(UTC), *(changes[name] for name in columns), user_id, todo_id)
    rows, _ = run_as(user_id, update_sql(columns), values)
    if not rows:
        raise not_found(todo_id)
    return todo_of(rows[0])


@app.post("/todos/{todo_id}/toggle", response_model=TodoRead)
def toggle_todo(todo_id: int, user_id: CurrentUser) -> dict[str, Any]:
    user_id = checked("user_id", _ROW_ID, user_id)
    todo_id = checked("todo_id", _ROW_ID, todo_id)
    rows, _ = run_as(user_id, TOGGLE_TODO, (datetime.now(UTC), user_id, todo_id))
    if not rows:
        raise not_found(todo_id)
    return todo_of(rows[0])


@app.delete("/todos/{todo_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_todo(todo_id: int, user_id: CurrentUser) -> None:
    user_id = checked("user_id", _ROW_ID, user_id)
    todo_id = checked("todo_id", _ROW_ID, todo_id)
    _, deleted = run_as(user_id, DELETE_TODO, (user_id, todo_id))
    if deleted == 0:
        raise not_found(todo_id)
