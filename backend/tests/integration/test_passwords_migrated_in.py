"""Accounts migrated in with bcrypt hashes log in, and leave with Argon2id.

Most FastAPI applications store bcrypt (`$2b$12$...`, passlib or pwdlib);
`$2a$` and `$2y$` are the same algorithm from older or PHP libraries. Low
cost factors keep these tests fast; the cost is read from the hash.
"""

from __future__ import annotations

import bcrypt
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session

from src import crud
from src.crud import aio
from src.models import User

PASSWORD = "migrated password"


def bcrypt_hash(password: str, prefix: str = "2b") -> str:
    made = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(4)).decode()
    return "$" + prefix + made[3:]


def migrated_user(session: Session, password_hash: str) -> User:
    user = User.model_validate({"email": "old@example.com", "hashed_password": password_hash})
    session.add(user)
    session.commit()
    return user


@pytest.mark.parametrize("prefix", ["2a", "2b", "2y"])
def test_a_bcrypt_account_logs_in_and_is_rehashed_to_argon2id(
    session: Session, prefix: str
) -> None:
    user = migrated_user(session, bcrypt_hash(PASSWORD, prefix))
    assert crud.authenticate(session, "old@example.com", SecretStr("wrong one")) is None
    assert user.hashed_password.startswith(f"${prefix}$")  # a failed login changes nothing
    assert crud.authenticate(session, "old@example.com", SecretStr(PASSWORD)) == user
    stored = session.execute(text('SELECT hashed_password FROM "user"')).scalar_one()
    assert stored.startswith("$argon2id$")
    assert crud.authenticate(session, "old@example.com", SecretStr(PASSWORD)) == user


def test_bcrypt_reads_only_the_first_72_bytes_as_it_always_did(session: Session) -> None:
    long_password = "é" * 40 + "tail"  # 84 bytes
    user = migrated_user(session, bcrypt_hash(long_password))
    assert crud.authenticate(session, "old@example.com", SecretStr(long_password)) == user


@pytest.mark.parametrize(
    "not_a_hash",
    ["hunter2hunter2", "$2x$04$" + "a" * 53, "$2b$04$short", "$1$md5$abc", "$argon2id$bad"],
)
def test_anything_but_a_recognised_hash_is_refused_by_the_model(not_a_hash: str) -> None:
    with pytest.raises(ValidationError) as caught:
        User.model_validate({"email": "old@example.com", "hashed_password": not_a_hash})
    assert not_a_hash not in str(caught.value)


@pytest.mark.parametrize("not_a_hash", ["plain password", "$1$md5$abc", "$2x$04$abc"])
def test_anything_but_a_recognised_hash_is_refused_by_the_database(
    session: Session, not_a_hash: str
) -> None:
    insert = text('INSERT INTO "user" (email, hashed_password) VALUES (:email, :hash)')
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(insert, {"email": "raw@example.com", "hash": not_a_hash})
    session.execute(insert, {"email": "raw@example.com", "hash": bcrypt_hash(PASSWORD)})


@pytest.mark.parametrize("password", ["\ud800", "abc\udfffdefgh", "\udbff" * 10])
def test_a_lone_surrogate_never_raises_at_login(session: Session, password: str) -> None:
    migrated_user(session, bcrypt_hash(PASSWORD))
    assert crud.authenticate(session, "old@example.com", SecretStr(password)) is None
    assert crud.authenticate(session, "nobody@example.com", SecretStr(password)) is None


async def test_async_bcrypt_login_rehashes_and_surrogates_answer_none(
    async_session: AsyncSession,
) -> None:
    user = User.model_validate(
        {"email": "old@example.com", "hashed_password": bcrypt_hash(PASSWORD)}
    )
    async_session.add(user)
    await async_session.commit()
    assert await aio.authenticate(async_session, "old@example.com", SecretStr("\ud800x")) is None
    assert await aio.authenticate(async_session, "old@example.com", SecretStr(PASSWORD)) == user
    assert user.hashed_password.startswith("$argon2id$")
