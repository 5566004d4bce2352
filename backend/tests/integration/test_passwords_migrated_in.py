"""Accounts migrated in with bcrypt hashes log in, and leave with Argon2id.

Most FastAPI applications store bcrypt (`$2b$12$...`, passlib or pwdlib);
`$2a$` and `$2y$` are the same algorithm from older or PHP libraries. Low
cost factors keep these tests fast; the cost is read from the hash.

bcrypt reads a password's first 72 bytes only, and the applications these
hashes come from cut longer passwords silently; the Argon2id hash that
replaces one is made from the password exactly as typed, so it keeps working.
A failed login lasts as long for a bcrypt account as for any other.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable

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
from tests.conftest import KNOWN_PASSWORD_HASH

PASSWORD = "migrated password"
EMAIL = "old@example.com"
STORED_HASH = text('SELECT hashed_password FROM "user" WHERE email = :email')


def bcrypt_hash(password: str, prefix: str = "2b", cost: int = 4) -> str:
    """As the applications these hashes come from made them: from the first 72 bytes."""
    made = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(cost)).decode()
    return "$" + prefix + made[3:]


# Longer than bcrypt reads, cut at a character boundary or inside one; 500 characters
# is more than registration here allows (128), but another application may have.
LONG_PASSWORDS = {
    "73 ASCII bytes": "a" * 73,
    "84 bytes, cut between characters": "é" * 40 + "tail",
    "81 bytes, cut inside a character": "a" + "é" * 40,
    "121 bytes of 4-byte emoji, cut inside one": "x" + "\U0001f511" * 30,
    "500 characters": "p" * 500,
    "exactly 72 bytes": "b" * 72,
}


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


def stored_hash(session: Session) -> str:
    return str(session.execute(STORED_HASH, {"email": EMAIL}).scalar_one())


@pytest.mark.parametrize("password", LONG_PASSWORDS.values(), ids=LONG_PASSWORDS.keys())
def test_a_long_password_logs_in_at_the_first_login_and_every_one_after_the_rehash(
    session: Session, password: str
) -> None:
    user = migrated_user(session, bcrypt_hash(password, "2y"))
    for login in range(3):
        assert crud.authenticate(session, EMAIL, SecretStr(password)) == user, login
        assert stored_hash(session).startswith("$argon2id$")


def test_after_the_rehash_every_byte_of_the_password_counts(session: Session) -> None:
    password = "é" * 40 + "tail"  # 84 bytes: bcrypt saw the first 72
    migrated_user(session, bcrypt_hash(password))
    assert crud.authenticate(session, EMAIL, SecretStr(password)) is not None
    first_72_bytes = password.encode()[:72].decode()
    for near in (first_72_bytes, password[:-1] + "L", password + "!"):
        assert crud.authenticate(session, EMAIL, SecretStr(near)) is None, near[-5:]


def test_the_replacement_hash_is_made_from_the_password_exactly_as_typed(
    session: Session,
) -> None:
    """bcrypt cannot tell two passwords apart after their 72nd byte; the one that logs in
    first is the one typed, so it is the one the account keeps."""
    migrated = "k" * 72 + " as registered elsewhere"
    typed = "k" * 72 + " as typed at the first login here"
    user = migrated_user(session, bcrypt_hash(migrated))
    assert crud.authenticate(session, EMAIL, SecretStr(typed)) == user
    assert crud.authenticate(session, EMAIL, SecretStr(typed)) == user
    assert crud.authenticate(session, EMAIL, SecretStr(migrated)) is None


@pytest.mark.parametrize("cost", ["03", "32"])  # bcrypt reads 04 to 31
def test_a_bcrypt_hash_whose_cost_bcrypt_refuses_matches_no_password(
    session: Session, cost: str
) -> None:
    readable = bcrypt_hash(PASSWORD)
    migrated_user(session, readable[:4] + cost + readable[6:])  # the model takes any 2 digits
    assert crud.authenticate(session, EMAIL, SecretStr(PASSWORD)) is None
    assert stored_hash(session).startswith(f"$2b${cost}$")


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


@pytest.mark.parametrize("password", LONG_PASSWORDS.values(), ids=LONG_PASSWORDS.keys())
async def test_async_a_long_password_logs_in_at_the_first_login_and_every_one_after(
    async_session: AsyncSession, password: str
) -> None:
    user = User.model_validate({"email": EMAIL, "hashed_password": bcrypt_hash(password)})
    async_session.add(user)
    await async_session.commit()
    for login in range(3):
        assert await aio.authenticate(async_session, EMAIL, SecretStr(password)) == user, login
        stored = await async_session.execute(STORED_HASH, {"email": EMAIL})
        assert stored.scalar_one().startswith("$argon2id$")


# Timing: each failed login is timed side by side with the others, round by round, and
# the medians compared with a generous bound. Before, an unknown email and a wrong
# Argon2id password took ~30 ms and a wrong password on a cost-10 bcrypt account ~80 ms
# (cost 12, the usual one: ~330 ms); now each waits out the same budget (~0.5 s).
ROUNDS = 3
FAILED_LOGINS = {  # case: (email, password); both accounts exist
    "unknown email": ("nobody@example.com", "wrong password"),
    "wrong password, Argon2id account": ("argon@example.com", "wrong password"),
    "wrong password, bcrypt account": (EMAIL, "wrong password"),
}


def spread(medians: dict[str, float]) -> float:
    return max(medians.values()) / min(medians.values())


def accounts_of_both_kinds() -> list[User]:
    """A bcrypt account (cost 10: ~4x Argon2id's time here) and an Argon2id one."""
    return [
        User.model_validate({"email": EMAIL, "hashed_password": bcrypt_hash(PASSWORD, cost=10)}),
        User.model_validate({"email": "argon@example.com", "hashed_password": KNOWN_PASSWORD_HASH}),
    ]


def test_a_failed_login_lasts_as_long_for_an_unknown_email_and_either_kind_of_hash(
    session: Session,
) -> None:
    session.add_all(accounts_of_both_kinds())
    session.commit()
    times: dict[str, list[float]] = {case: [] for case in FAILED_LOGINS}
    for _ in range(ROUNDS):
        for case, (email, password) in FAILED_LOGINS.items():
            started = time.perf_counter()
            assert crud.authenticate(session, email, SecretStr(password)) is None
            times[case].append(time.perf_counter() - started)
    medians = {case: statistics.median(values) for case, values in times.items()}
    assert spread(medians) < 1.5, medians


async def test_async_a_failed_login_lasts_as_long_for_an_unknown_email_and_either_hash(
    async_session: AsyncSession,
) -> None:
    async_session.add_all(accounts_of_both_kinds())
    await async_session.commit()
    times: dict[str, list[float]] = {case: [] for case in FAILED_LOGINS}

    async def timed(login: Awaitable[User | None]) -> float:
        started = time.perf_counter()  # a coroutine runs nothing before it is awaited
        assert await login is None
        return time.perf_counter() - started

    for _ in range(ROUNDS):
        for case, (email, password) in FAILED_LOGINS.items():
            login = aio.authenticate(async_session, email, SecretStr(password))
            times[case].append(await timed(login))
    medians = {case: statistics.median(values) for case, values in times.items()}
    assert spread(medians) < 1.5, medians
