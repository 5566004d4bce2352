"""Argument rules shared by every operation, checked before any SQL runs.

`@validated` runs pydantic's `validate_call` in strict mode: a wrong type, an
id out of range or a limit too large raises `ValidationError` whose location
is the argument's name (positional arguments are passed on by name, since
`validate_call` alone would report them by index). The error carries no input
value: not in `str`, `repr`, `errors()` or `json()`, since an input may be a
password in any form (a dict, a bytes value, a model built without validation).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, cast

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    validate_call,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from src.models import TodoCreate

MAX_ID = 2**63 - 1  # PostgreSQL BIGINT
MAX_PAGE_SIZE = 200

RowId = Annotated[int, Field(gt=0, le=MAX_ID)]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str, Field(min_length=1, max_length=512)]
EmailLookup = Annotated[str, Field(max_length=320)]


def _trust_validated_item(value: Any, validate: ValidatorFunctionWrapHandler) -> Any:
    """A `TodoCreate` still holding what validation produced passes as it is; anything else
    (a dict, a `model_construct` instance, one changed since) is validated in full."""
    if type(value) is TodoCreate and value.holds_validated_values():
        return value
    return validate(value)


# `create_todos`'s items: validated once, where they were made, not again per call.
TodoCreateItem = Annotated[TodoCreate, WrapValidator(_trust_validated_item)]

_STRICT_ARGUMENTS = ConfigDict(strict=True, arbitrary_types_allowed=True, hide_input_in_errors=True)
HIDDEN_INPUT = "[hidden]"  # what an operation's ValidationError shows as every error's input

F = TypeVar("F", bound=Callable[..., Any])


def validated(func: F) -> F:
    """Check every argument of `func` against its annotation, reporting errors by name.

    The wrapper keeps `func`'s signature (`inspect.signature` follows
    `__wrapped__`), and a coroutine function stays one.
    """
    checked = validate_call(config=_STRICT_ARGUMENTS)(func)
    signature = inspect.signature(func)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def awaited_by_name(*args: Any, **kwargs: Any) -> Any:
            try:
                return await checked(**signature.bind(*args, **kwargs).arguments)
            except ValidationError as exc:
                raise without_inputs(exc) from None

        return cast(F, awaited_by_name)

    @functools.wraps(func)
    def by_name(*args: Any, **kwargs: Any) -> Any:
        try:
            return checked(**signature.bind(*args, **kwargs).arguments)
        except ValidationError as exc:
            raise without_inputs(exc) from None

    return cast(F, by_name)


def refused(argument: str, error_type: str, message: str) -> ValidationError:
    """A `ValidationError` for one argument, shaped like those `@validated` raises."""
    detail = InitErrorDetails(
        type=PydanticCustomError(error_type, message), loc=(argument,), input=HIDDEN_INPUT
    )
    return ValidationError.from_exception_data("arguments", [detail], hide_input=True)


def without_inputs(error: ValidationError) -> ValidationError:
    """The same errors (type, location, message) with every input value replaced.

    `hide_input_in_errors` hides the input from `str` only; `errors()` and
    `json()` still carry it, so the error is rebuilt. The message is kept as
    rendered, so the rule and its limits (`at least 8 characters`) remain.
    """
    details = [
        InitErrorDetails(
            type=PydanticCustomError(line["type"], line["msg"]),
            loc=line["loc"],
            input=HIDDEN_INPUT,
        )
        for line in error.errors(include_url=False, include_context=False, include_input=False)
    ]
    return ValidationError.from_exception_data(error.title, details, hide_input=True)
