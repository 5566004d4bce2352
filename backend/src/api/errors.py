"""The package's errors as HTTP answers, registered on an app in one call.

| error | status |
| --- | --- |
| `NotFoundError` (a todo of another user included) | 404 |
| `DuplicateEmailError` | 409 |
| `IncorrectPasswordError` (an account change's `current_password`) | 422, naming the field |
| a request (path, query, body) breaking a rule | 422, naming the field |
| `InvalidCursorError` | 400 |
| `DatabaseConnectionError`, `PoolExhaustedError` | 503 with `Retry-After` |
| `InMemoryDatabaseBusyError` (the embedded database's one connection) | 503 with `Retry-After` |
| a body that cannot be read as JSON (not UTF-8, nested too deep) | 422 `json_invalid` at `body` |
| a method the path does not declare (`methods.py`) | 405 with `Allow` |
| anything else, a `ValidationError` raised past the request included | 500 |

No body ever carries a stack trace, and validation errors never echo the input
(FastAPI's default 422 does, and a register request's input is a password).
A 503 tells the client nothing about the database; the log gets the reason,
whose URL has its password masked. Unexpected errors get a bare 500 here;
Starlette then re-raises them so the server logs them with their traceback.

Only the client's own input is a 4xx. The server's configuration breaking a
rule (a bad `DB_POOL_SIZE`, production without `CURSOR_SECRET_KEY`) is a
`SettingsError`, and a pydantic `ValidationError` that reaches a handler was
not raised by FastAPI reading the request (that is a `RequestValidationError`):
it comes from the application's verifier returning something that is not a
user id, or from an endpoint passing on a value it never declared with a rule
(`params.py` holds the declared forms). None of those is the client's to fix,
and its message (a setting's name and rule) is not the client's to read: a
500, reason in the log. With `database_lifespan` a configuration fault stops
the service before its first request instead.

FastAPI answers a body it cannot parse at all (bytes that are not UTF-8, JSON
nested deeper than the parser goes) with a bare 400 "There was an error
parsing the body", while a body that parses but is not JSON gets a 422
`json_invalid`: the same fault, two answers, and the 400 named no field. Both
are the 422 here. `responses.py` declares these answers in the OpenAPI schema.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from src.api.methods import DeclaredMethods
from src.errors import (
    DatabaseConnectionError,
    DuplicateEmailError,
    IncorrectPasswordError,
    InMemoryDatabaseBusyError,
    InvalidCursorError,
    NotFoundError,
    PoolExhaustedError,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1
"""What a 503 asks clients to wait: Neon wakes a compute in a few hundred ms to a few seconds."""

UNPARSABLE_BODY = "There was an error parsing the body"
"""FastAPI's 400 detail for a body its JSON parser could not read (fastapi/routing.py)."""


def register_error_handlers(app: FastAPI) -> None:
    """Answer the package's errors with the statuses above, on every route of `app`.

    Call it before the app serves a request: it installs `DeclaredMethods`
    as the innermost middleware, which Starlette allows only until then.
    """
    if app.middleware_stack is not None:
        raise RuntimeError("register_error_handlers(app) must run before the app serves requests")
    app.user_middleware.append(Middleware(DeclaredMethods, routes=app.router.routes))
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(DuplicateEmailError, _duplicate_email)
    app.add_exception_handler(IncorrectPasswordError, _incorrect_password)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(InvalidCursorError, _invalid_cursor)
    app.add_exception_handler(DatabaseConnectionError, _database_unavailable)
    app.add_exception_handler(PoolExhaustedError, _database_busy)
    app.add_exception_handler(InMemoryDatabaseBusyError, _database_busy)
    app.add_exception_handler(Exception, _internal_error)


def field_errors(errors: Sequence[ErrorDetails] | Sequence[Any]) -> list[dict[str, Any]]:
    """Where each error is and which rule it breaks; never the input or its context."""
    return [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in errors
    ]


def _answer(status: int, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return _answer(404, str(exc))


async def _duplicate_email(_request: Request, _exc: Exception) -> JSONResponse:
    return _answer(409, "email: an account with this email already exists")


async def _incorrect_password(_request: Request, exc: Exception) -> JSONResponse:
    """A body field breaking a rule only the database can check: a 422 like any other."""
    assert isinstance(exc, IncorrectPasswordError)
    error = {"loc": ["body", exc.field], "msg": "does not match the account's password"}
    return _answer(422, [{**error, "type": "password_incorrect"}])


async def _request_invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _answer(422, field_errors(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own answer, except its 400 for an unparsable body: that is a 422 like the rest."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.detail == UNPARSABLE_BODY:
        error = {"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}
        return _answer(422, [error])
    return await http_exception_handler(request, exc)


async def _invalid_cursor(_request: Request, exc: Exception) -> JSONResponse:
    return _answer(400, str(exc))


def _retry_later(detail: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A 503 with `Retry-After` saying `detail`; the log gets the (masked) reason."""

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("%s %s answered 503: %s", request.method, request.url.path, exc)
        return _answer(503, detail, {"Retry-After": str(RETRY_AFTER_S)})

    return answer


_database_unavailable = _retry_later("the database is unavailable for a moment; retry the request")
_database_busy = _retry_later("every database connection is busy; retry the request")


async def _internal_error(_request: Request, _exc: Exception) -> JSONResponse:
    return _answer(500, "internal server error")
