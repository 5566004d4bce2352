"""The JSON Schema of each text field says what its validators enforce: the same yes and no.

The request schemas (`TodoCreate`, `TodoUpdate`, `UserCreate`) are judged by
jsonschema-rs, the validator schemathesis uses, on generated text around each
rule's edges: whitespace that is stripped and that is not, invisible and
visible characters, NUL, lengths on both sides of each limit before and after
stripping.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

import email_validator
import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError

from src.models import TodoCreate, TodoUpdate, UserCreate
from src.models.json_schema import STRIPPED_RANGES
from src.models.todo import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH
from src.models.user import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

STRIPPED = "".join(chr(c) for low, high in STRIPPED_RANGES for c in range(low, high + 1))
# Kept at the ends: invisible (refused alone in a title) but not whitespace, so never stripped.
KEPT_INVISIBLE = "\x01\x1c\x7f\u0086\u00ad\u200b\u2060\ufeff\u3164\U000e0041"
VISIBLE = "a.é한\u0600\U0001f600"


def text(alphabet: str, sizes: tuple[int, int]) -> st.SearchStrategy[str]:
    return st.text(alphabet=st.sampled_from(alphabet), min_size=sizes[0], max_size=sizes[1])


def padded(core_sizes: tuple[int, int]) -> st.SearchStrategy[str]:
    """Whitespace, a core of mixed characters of about `core_sizes`, whitespace."""
    core = text(STRIPPED + KEPT_INVISIBLE + VISIBLE + "\x00", core_sizes)
    edge = st.one_of(st.just(""), text(STRIPPED, (1, 40)))
    return st.builds(lambda a, b, c: a + b + c, edge, core, edge)


def around(limit: int) -> st.SearchStrategy[str]:
    return st.one_of(padded((0, 4)), padded((limit - 3, limit + 3)))


@functools.cache
def published(model: type[BaseModel]) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft202012Validator(model.model_json_schema())


def agree(model: type[BaseModel], field: str, value: str, **others: Any) -> None:
    """The model accepts `value` in `field` exactly when its published schema does."""
    schema = published(model)
    try:
        model.model_validate({field: value, **others})
        accepted = True
    except ValidationError:
        accepted = False
    assert schema.is_valid({field: value, **others}) is accepted, repr(value)


def test_the_whitespace_the_schemas_strip_is_exactly_what_strip_whitespace_removes() -> None:
    strip = TypeAdapter(list[Annotated[str, StringConstraints(strip_whitespace=True)]])
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    kept = strip.validate_python(characters)
    stripped = [c for c, rest in zip(characters, kept, strict=True) if not rest]
    assert "".join(stripped) == STRIPPED


@given(around(TITLE_MAX_LENGTH))
def test_a_title_is_valid_in_the_schemas_exactly_when_the_models_accept_it(title: str) -> None:
    agree(TodoCreate, "title", title)
    agree(TodoUpdate, "title", title)


@given(around(DESCRIPTION_MAX_LENGTH))
def test_a_description_is_valid_in_the_schemas_exactly_when_the_models_accept_it(
    description: str,
) -> None:
    agree(TodoCreate, "description", description, title="t")
    agree(TodoUpdate, "description", description)


@given(
    st.one_of(
        text(VISIBLE + STRIPPED + "\x00", (PASSWORD_MIN_LENGTH - 2, PASSWORD_MIN_LENGTH + 2)),
        text(VISIBLE + "\x00", (PASSWORD_MAX_LENGTH - 2, PASSWORD_MAX_LENGTH + 2)),
    )
)
def test_a_password_is_valid_in_the_schema_exactly_when_the_model_accepts_it(password: str) -> None:
    agree(UserCreate, "password", password, email="ann@example.com")


@pytest.mark.parametrize("name", email_validator.SPECIAL_USE_DOMAIN_NAMES)
@pytest.mark.parametrize("spell", [str.lower, str.upper, str.title])
def test_an_email_at_a_special_use_domain_is_invalid_in_the_schema_as_in_the_model(
    name: str, spell: Callable[[str], str]
) -> None:
    agree(UserCreate, "email", f"ann@example.{spell(name)}", password="correct horse")
    agree(UserCreate, "email", f"ann@{spell(name)}.example.com", password="correct horse")
