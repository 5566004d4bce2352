"""Account operations: registration, lookup, authentication and deletion, on both backends."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from sqlmodel import Session

from src import crud
from src.errors import DuplicateEmailError, UserNotFoundError
from src.models import TodoCreate, User, UserCreate
from src.security import passwords
from tests.conftest import KNOWN_PASSWORD, add_user, table_snapshot

PASSWORD = SecretStr("a long enough password")

# The argument-rule tests below pass wrong types on purpose; the checker must let them.
unchecked: Any = crud


def register(session: Session, email: str, password: SecretStr = PASSWORD) -> User:
    return crud.create_user(session, UserCreate(email=email, password=password))


def test_create_user_stores_an_argon2id_hash_not_the_password(session: Session) -> None:
    user = register(session, "Ann@Example.com")
    assert user.id is not None
    assert user.email == "ann@example.com"
    assert user.hashed_password.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD.get_secret_value() not in user.hashed_password


@pytest.mark.parametrize("variant", ["ann@example.com", "ANN@example.COM", " Ann@Example.com "])
def test_create_user_refuses_an_email_taken_in_any_letter_case(
    session: Session, variant: str
) -> None:
    register(session, "Ann@Example.com")
    before = table_snapshot(session)
    with pytest.raises(DuplicateEmailError, match=r"ann@example\.com"):
        register(session, variant)
    assert table_snapshot(session) == before


def test_get_user_by_email_ignores_letter_case(session: Session) -> None:
    user = register(session, "ann@example.com")
    assert crud.get_user_by_email(session, "ANN@EXAMPLE.COM") == user
    assert crud.get_user_by_email(session, "nobody@example.com") is None
    assert crud.get_user(session, user.id) == user  # type: ignore[arg-type]
    assert crud.get_user(session, 2**63 - 1) is None


def test_authenticate_accepts_the_right_password_only(session: Session) -> None:
    user = add_user(session, "ann@example.com")
    assert crud.authenticate(session, "Ann@example.com", SecretStr(KNOWN_PASSWORD)) == user
    assert crud.authenticate(session, "ann@example.com", SecretStr("wrong password")) is None
    assert crud.authenticate(session, "nobody@example.com", SecretStr(KNOWN_PASSWORD)) is None


def test_authenticate_verifies_a_hash_even_for_an_unknown_email(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same work for a known and an unknown email, so timing reveals nothing."""
    add_user(session, "ann@example.com")
    verified: list[str] = []
    hasher = passwords._password_hash.current_hasher
    real_verify = hasher.verify

    def counting_verify(password: str | bytes, hash_: str | bytes) -> bool:
        verified.append(str(hash_))
        return real_verify(password, hash_)

    monkeypatch.setattr(hasher, "verify", counting_verify)
    crud.authenticate(session, "nobody@example.com", SecretStr("whatever password"))
    crud.authenticate(session, "ann@example.com", SecretStr("wrong password"))
    assert len(verified) == 2
    assert all(h.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for h in verified)


def test_authenticate_rehashes_a_hash_made_with_old_parameters(session: Session) -> None:
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    weak = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
    user = User.model_validate(
        {"email": "old@example.com", "hashed_password": weak.hash("old pw!!")}
    )
    session.add(user)
    session.commit()
    assert crud.authenticate(session, "old@example.com", SecretStr("old pw!!")) == user
    session.expire_all()
    stored = session.get(User, user.id)
    assert stored is not None
    assert stored.hashed_password.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_delete_user_takes_their_todos_and_only_theirs(session: Session) -> None:
    ann, bob = add_user(session, "ann@example.com"), add_user(session, "bob@example.com")
    assert ann.id is not None
    assert bob.id is not None
    crud.create_todos(session, ann.id, [TodoCreate(title="a1"), TodoCreate(title="a2")])
    crud.create_todos(session, bob.id, [TodoCreate(title="b1")])
    crud.delete_user(session, ann.id)
    assert crud.get_user(session, ann.id) is None
    assert crud.count_todos(session, ann.id).total == 0
    assert crud.count_todos(session, bob.id).total == 1


def test_delete_user_of_a_missing_user_raises(session: Session) -> None:
    with pytest.raises(UserNotFoundError, match="user 424242 not found"):
        crud.delete_user(session, 424242)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email", "password": "long enough pw"}, "email"),
        ({"email": "a@b.io", "password": "short"}, "password"),
        ({"email": "a@b.io", "password": "x" * 129}, "password"),
        ({"email": "a@b.io", "password": "nul\x00 in password"}, "password"),
        ({"email": "a\x00@b.io", "password": "long enough pw"}, "email"),
        ({"email": "a@b.io", "password": "long enough pw", "admin": True}, "admin"),
        ({"email": 42, "password": "long enough pw"}, "email"),
    ],
)
def test_bad_registration_input_names_the_field_and_writes_nothing(
    session: Session, data: dict[str, object], field: str
) -> None:
    before = table_snapshot(session)
    with pytest.raises(ValidationError) as caught:
        crud.create_user(session, UserCreate.model_validate(data))
    assert caught.value.errors()[0]["loc"][0] == field
    assert "long enough pw" not in str(caught.value)
    assert table_snapshot(session) == before


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda s: unchecked.get_user(s, "1"), "user_id"),
        (lambda s: crud.get_user(s, 0), "user_id"),
        (lambda s: crud.get_user(s, 2**63), "user_id"),
        (lambda s: crud.delete_user(s, -1), "user_id"),
        (lambda s: unchecked.get_user_by_email(s, None), "email"),
        (lambda s: unchecked.authenticate(s, "a@b.io", 123456789), "password"),
        (lambda s: unchecked.create_user(s, "ann@example.com"), "data"),
    ],
)
def test_bad_arguments_raise_validation_errors_naming_the_argument(
    session: Session, call: object, argument: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        call(session)  # type: ignore[operator]
    assert caught.value.errors()[0]["loc"][0] == argument


def test_plain_password_never_reaches_logs_or_reprs(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "my very secret passphrase"
    with caplog.at_level(logging.DEBUG):
        user = register(session, "ann@example.com", SecretStr(secret))
        crud.authenticate(session, "ann@example.com", SecretStr(secret))
        data = UserCreate(email="x@y.io", password=SecretStr(secret))
    for text in (caplog.text, repr(user), repr(data), str(data), data.model_dump_json()):
        assert secret not in text
        assert user.hashed_password not in text


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short", "at least 8 characters"),
        ("x" * 129, "at most 128 characters"),
        ("nul\x00 in password", "NUL"),
    ],
    ids=["too-short", "too-long", "nul"],
)
def test_a_bad_password_is_refused_with_its_rule_in_characters(password: str, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule) as caught:
        UserCreate(email="a@b.io", password=password)  # type: ignore[arg-type]
    assert caught.value.errors()[0]["loc"] == ("password",)
