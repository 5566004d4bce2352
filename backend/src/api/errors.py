"""The package's errors as HTTP answers, registered on an app in one call.

| error | status |
| --- | --- |
| `NotFoundError` (a todo of another user included) | 404 |
| `DuplicateEmailError` | 409 |
| a request (path, query, body) breaking a rule | 422, naming the field |
| `InvalidCursorError` | 400 |
| `DatabaseConnectionError`, `PoolExhaustedError` | 503 with `Retry-After` |
| anything else, a `ValidationError` raised past the request included | 500 |

No body ever carries a stack trace, and validation errors never echo the input
(FastAPI's default 422 does, and a register request's input is a password).
A 503 tells the client nothing about the database; the log gets the reason,
whose URL has its password masked. Unexpected errors get a bare 500 here;
Starlette then re-raises them so the server logs them with their traceback.

Only the client's own input is a 4xx. A pydantic `ValidationError` that
reaches a handler was not raised by FastAPI reading the request (that is a
`RequestValidationError`): it comes from the server's configuration (a bad
`DB_POOL_SIZE`, production without `CURSOR_SECRET_KEY`), from the
application's verifier returning something that is not a user id, or from an
endpoint passing on a value it never declared with a rule (`params.py` holds
the declared forms). None of those is the client's to fix, and its message
(a setting's name and rule) is not the client's to read: a 500, reason in
the log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import ErrorDetails

from src.errors import (
    DatabaseConnectionError,
    DuplicateEmailError,
    InvalidCursorError,
    NotFoundError,
    PoolExhaustedError,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1
"""What a 503 asks clients to wait: Neon wakes a compute in a few hundred ms to a few seconds."""


def register_error_handlers(app: FastAPI) -> None:
    """Answer the package's errors with the statuses above, on every route of `app`."""
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(DuplicateEmailError, _duplicate_email)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(InvalidCursorError, _invalid_cursor)
    app.add_exception_handler(DatabaseConnectionError, _database_unavailable)
    app.add_exception_handler(PoolExhaustedError, _database_busy)
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


async def _request_invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _answer(422, field_errors(exc.errors()))


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
