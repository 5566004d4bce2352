"""No error raised by an operation contains the password, whatever form it came in.

pydantic's `hide_input_in_errors` hides the input from `str()` only; these
tests read every face of the error: str, repr, the traceback text,
`errors()`, and `json()`.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, cast

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session

from src import crud
from src.crud import aio
from src.models import UserCreate

SECRET = "sh0rt!!"  # the password every form below carries
LONG_SECRET = "Z" * 120 + "sh0rt!!XYZ"

SENT_FORMS: list[tuple[str, Callable[[], Any]]] = [
    ("dict, too short", lambda: {"email": "ann@example.com", "password": SECRET}),
    ("dict, too long", lambda: {"email": "ann@example.com", "password": LONG_SECRET}),
    ("dict, bytes", lambda: {"email": "ann@example.com", "password": SECRET.encode()}),
    ("dict, NUL", lambda: {"email": "ann@example.com", "password": SECRET + "\x00pad"}),
    ("dict, bad email", lambda: {"email": "not an email", "password": SECRET + "long"}),
    ("dict, no email", lambda: {"password": SECRET + "long"}),
    ("dict, extra field", lambda: {"email": "a@example.com", "password": SECRET, "x": SECRET}),
    ("dict, surrogate", lambda: {"email": "a@example.com", "password": SECRET + "\ud800x"}),
    (
        "constructed, str",
        lambda: UserCreate.model_construct(email="a@example.com", password=cast(Any, SECRET)),
    ),
    (
        "constructed, short secret",
        lambda: UserCreate.model_construct(email="a@example.com", password=SecretStr(SECRET)),
    ),
    ("list", lambda: ["ann@example.com", SECRET]),
    ("bytes body", f'{{"password": "{SECRET}"}}'.encode),
]


def every_face(error: BaseException) -> str:
    text = "".join(traceback.format_exception(error))
    if isinstance(error, ValidationError):
        text += repr(error.errors()) + error.json() + repr(error)
    return text


def assert_no_secret(error: BaseException) -> None:
    faces = every_face(error)
    assert SECRET not in faces
    assert repr(SECRET.encode()) not in faces


@pytest.mark.parametrize(("form", "data"), SENT_FORMS, ids=[form for form, _ in SENT_FORMS])
def test_create_user_errors_never_carry_the_password(
    session: Session, form: str, data: Callable[[], Any]
) -> None:
    with pytest.raises(ValidationError) as caught:
        crud.create_user(session, data())
    assert_no_secret(caught.value)
    assert caught.value.errors()[0]["loc"][0] == "data", form


@pytest.mark.parametrize("password", [SECRET.encode(), 42, [SECRET], {"p": SECRET}])
def test_authenticate_errors_never_carry_the_password(session: Session, password: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        crud.authenticate(session, "ann@example.com", password)
    assert_no_secret(caught.value)


@pytest.mark.parametrize(("form", "data"), SENT_FORMS, ids=[form for form, _ in SENT_FORMS])
async def test_async_create_user_errors_never_carry_the_password(
    async_session: AsyncSession, form: str, data: Callable[[], Any]
) -> None:
    with pytest.raises(ValidationError) as caught:
        await aio.create_user(async_session, data())
    assert_no_secret(caught.value)
    assert caught.value.errors()[0]["loc"][0] == "data", form


async def test_async_authenticate_errors_never_carry_the_password(
    async_session: AsyncSession,
) -> None:
    with pytest.raises(ValidationError) as caught:
        await aio.authenticate(async_session, "ann@example.com", cast(Any, SECRET.encode()))
    assert_no_secret(caught.value)
