"""The `user` table and the schemas that guard its input and output.

Emails are stored as their key (`email_key`: NFKC, Unicode domain, lower
case), and a CHECK constraint holds the database to lower case, so one unique
index makes `Ann@X.com`, `ann@xn--x-...` and a fullwidth `ann@x.com` one account on every
backend.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any

import email_validator
from pydantic import AfterValidator, SecretStr, StrictBool, StringConstraints, field_validator
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError
from sqlalchemy import CheckConstraint, String, true
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from src.models.base import NoNulStr, TimestampFields
from src.models.json_schema import NO_NUL, Documented, ends_with_label, omitted_not_null
from src.models.types import BigIntegerKey

EMAIL_MAX_LENGTH = 254  # RFC 5321 path limit
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128  # bounds the cost of hashing hostile input

_PASSWORD_HASH = re.compile(
    r"\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
    r"|\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"  # bcrypt, from a migration; re-hashed at login
)
# The database's version of the rule (a CHECK): a recognised hash prefix.
HASH_PREFIX_CHECK = (
    "hashed_password LIKE '$argon2%' OR hashed_password LIKE '$2a$%' "
    "OR hashed_password LIKE '$2b$%' OR hashed_password LIKE '$2y$%'"
)


def email_key(value: str) -> str:
    """The one spelling of an email this package stores and looks up: its key.

    NFKC first (fullwidth letters, ligatures and other compatibility forms
    become their plain letters), then pydantic's email validation, which drops
    a display name (`Ann <ann@x.com>`) and turns the domain into Unicode
    (UTS-46: `xn--bcher-kva.de` and `bücher。de` are `bücher.de`), then
    `str.lower()`. Lower-casing, not case folding: `STRASSE@x.de` and
    `straße@x.de` are different mailboxes and stay two accounts (data-model.md).
    Raises `PydanticCustomError` if `value` is not an email address.
    """
    if not is_unicode_text(value) or "\x00" in value:
        raise PydanticCustomError("value_error", "value is not a valid email address")
    _display_name, address = validate_email(unicodedata.normalize("NFKC", value.strip()))
    return address.lower()


def email_key_or_none(value: str) -> str | None:
    """`email_key(value)`, or None for what no account can have: lookups answer not found."""
    try:
        return email_key(value)
    except PydanticCustomError:
        return None


def is_unicode_text(value: str) -> bool:
    """Whether `value` can be encoded (Python strings may hold lone surrogates; text may not)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _require_password_hash(value: str) -> str:
    if not _PASSWORD_HASH.fullmatch(value):
        raise ValueError("must be an Argon2 or bcrypt hash, never a plain password")
    return value


def _check_password(value: SecretStr) -> SecretStr:
    """Length in characters and no NUL; the messages never carry the password."""
    password = value.get_secret_value()
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PydanticCustomError(
            "string_too_short",
            "must be at least {min_length} characters long",
            {"min_length": PASSWORD_MIN_LENGTH},
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise _too_long()
    if "\x00" in password:
        raise ValueError("must not contain NUL (\\x00) characters")
    if not is_unicode_text(password):
        raise PydanticCustomError("string_unicode", "must be Unicode text (no lone surrogates)")
    return value


def _check_current_password(value: SecretStr) -> SecretStr:
    """Only its length is bounded (the cost of checking it): any other rule would refuse a
    password that was set under older rules and still logs in."""
    if len(value.get_secret_value()) > PASSWORD_MAX_LENGTH:
        raise _too_long()
    return value


def _too_long() -> PydanticCustomError:
    return PydanticCustomError(
        "string_too_long",
        "must be at most {max_length} characters long",
        {"max_length": PASSWORD_MAX_LENGTH},
    )


Email = Annotated[
    str,
    AfterValidator(email_key),
    StringConstraints(max_length=EMAIL_MAX_LENGTH),
    Documented(
        {
            "format": "idn-email",
            "not": {"pattern": ends_with_label(email_validator.SPECIAL_USE_DOMAIN_NAMES)},
            "description": "An email address, Unicode allowed; its domain has a dot, ends in a "
            "letter and is no special-use name (.test, .local, .invalid, ...). Kept as its key "
            f"(NFKC, lower case, Unicode domain) of at most {EMAIL_MAX_LENGTH} characters; "
            "surrounding spaces and a display name (`Ann <ann@x.com>`) are dropped first.",
        },
        untrue_of_input=("maxLength",),  # the key's limit: a display name may make it longer
    ),
]
Password = Annotated[
    SecretStr,
    AfterValidator(_check_password),
    Documented(
        {
            "minLength": PASSWORD_MIN_LENGTH,
            "maxLength": PASSWORD_MAX_LENGTH,
            "pattern": NO_NUL,
            "description": f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters of "
            "Unicode text: no NUL (U+0000), no lone surrogate.",
        }
    ),
]
CurrentPassword = Annotated[
    SecretStr,
    AfterValidator(_check_current_password),
    Documented(
        {
            "maxLength": PASSWORD_MAX_LENGTH,
            "description": "The account's password as it is now, checked as a login checks "
            "it; a wrong one is refused naming this field.",
        }
    ),
]
PasswordHash = Annotated[NoNulStr, AfterValidator(_require_password_hash)]


class UserBase(SQLModel):
    email: Email = Field(sa_type=String(EMAIL_MAX_LENGTH), unique=True, nullable=False)


class User(UserBase, TimestampFields, table=True):
    # A plain password passed here by mistake must not be echoed in the error.
    model_config = SQLModelConfig(hide_input_in_errors=True)
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint(HASH_PREFIX_CHECK, name="hashed_password_is_hash"),
        {"sqlite_autoincrement": True},  # ids are never reused (data-model.md)
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntegerKey)
    hashed_password: PasswordHash = Field(sa_type=String(255), nullable=False, repr=False)
    # False: deactivated. No login, no token accepted, todos kept (`crud.set_active`).
    is_active: StrictBool = Field(
        default=True, nullable=False, sa_column_kwargs={"server_default": true()}
    )


class UserCreate(SQLModel):
    """What a caller sends to register: a plain password, hashed before it is stored."""

    model_config = SQLModelConfig(
        extra="forbid", strict=True, hide_input_in_errors=True, revalidate_instances="always"
    )

    email: Email
    password: Password


class UserUpdate(SQLModel):
    """What an account holder sends to change the account: the current password, always
    (a stolen token alone must not take an account over), and a new email, a new password or
    both. Either may be omitted, neither set to null; a new password follows registration's
    rules, a new email is keyed as registration keys it."""

    model_config = SQLModelConfig(
        extra="forbid",
        strict=True,
        hide_input_in_errors=True,
        json_schema_extra=omitted_not_null("email", "new_password"),
    )

    current_password: CurrentPassword
    # None is only the "not sent" default, refused when sent (below), and not published.
    email: Email | None = None
    new_password: Password | None = None

    @field_validator("email", "new_password", mode="before")
    @classmethod
    def _not_null_when_sent(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be omitted but not set to null")
        return value

    def checked(self) -> UserUpdate:
        """This change validated again from what was sent (an instance may skip validation)."""
        return UserUpdate.model_validate(self.model_dump(exclude_unset=True))


class UserRead(UserBase):
    """What leaves the data layer: never the password hash."""

    id: int
    created_at: datetime
    updated_at: datetime
