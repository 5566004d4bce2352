"""The service's error answers, declared once for every route's OpenAPI entry.

FastAPI publishes only what a route declares: without `responses=` a route's
schema shows its success and FastAPI's own 422, while the service also answers
401, 404, 409, 400, 503 and 500, and generated clients and contract tests
(schemathesis) then treat those answers as undocumented. A route declares the
statuses it can answer by name; their bodies, headers and meanings are the
ones below, written once, next to nothing else:

    @app.get("/todos/{todo_id}", responses=error_responses(401, 404, 422))

Every route also gets 503 (with `Retry-After`) and 500, which any request
touching the database can meet. The bodies are the handlers' own
(`errors.py`) and the verifier's (`tokens.py`, 401 with `WWW-Authenticate`):
`{"detail": "..."}`, or for 422 one error per broken rule, never the input.
A 405 is no route's answer but the path's (`methods.py`), so no route
declares it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorMessage(BaseModel):
    """What went wrong, in words; never the request's input or a stack trace."""

    model_config = ConfigDict(extra="forbid")

    detail: str


class FieldError(BaseModel):
    """One broken rule: where (`loc`), which rule (`type`) and what it says (`msg`)."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str | int] = Field(
        min_length=1,
        description="Where: `body`, `query`, `path` or `header`, then the field's name or index",
    )
    msg: str
    type: str


class FieldErrors(BaseModel):
    """A request value broke one or more rules: each is named, and no input is echoed."""

    model_config = ConfigDict(extra="forbid")

    detail: list[FieldError] = Field(min_length=1)


def _header(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": schema}


_ANSWERS: dict[int, tuple[type[BaseModel], str, dict[str, Any]]] = {
    400: (
        ErrorMessage,
        "A `cursor` this service did not issue for this list: altered, truncated, "
        "or taken from another list; start again without a cursor",
        {},
    ),
    401: (
        ErrorMessage,
        "The caller is not authenticated: no valid bearer token "
        "(at login: a wrong email or password, answered alike)",
        {"WWW-Authenticate": _header("The scheme to authenticate with", {"type": "string"})},
    ),
    404: (
        ErrorMessage,
        "No such resource for this caller: another user's is answered exactly like a missing one",
        {},
    ),
    409: (ErrorMessage, "An account with this email (compared as its key) already exists", {}),
    422: (FieldErrors, "A request value breaks a rule; each error names field and rule", {}),
    503: (
        ErrorMessage,
        "The database is unreachable or every connection is busy for a moment; "
        "nothing was changed, retry after `Retry-After` seconds",
        {
            "Retry-After": _header(
                "Seconds to wait before retrying",
                {"type": "integer", "minimum": 0},
            )
        },
    ),
    500: (ErrorMessage, "An unexpected server error; the reason is in the server's log", {}),
}

ALWAYS = (503, 500)
"""What every route may answer: the database unavailable (503), a server fault (500)."""


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route answering `statuses`, plus 503 and 500; in status order.

    Raises `ValueError` for a status with no answer above, so a route cannot
    declare a body the service does not send.
    """
    unknown = sorted(set(statuses) - _ANSWERS.keys())
    if unknown:
        raise ValueError(f"no error answer for status {unknown}: declare one of {sorted(_ANSWERS)}")
    declared: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, *ALWAYS}):
        model, description, headers = _ANSWERS[status]
        answer: dict[str, Any] = {"model": model, "description": description}
        if headers:
            answer["headers"] = headers
        declared[status] = answer
    return declared
