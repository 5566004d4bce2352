"""Accounts that change: email, password, deactivation, on every backend and both paths.

Every change an account holder makes is confirmed by the current password,
checked exactly as a login checks it; a deactivated account keeps its row
and todos and is answered as a wrong password, in a wrong password's time.
Races are on PostgreSQL (`test_account_races.py`), the migration in
`test_migration_account_active.py`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session as AnySession
from sqlmodel import Session

from src import crud
from src.crud import accounts, aio, users
from src.errors import DuplicateEmailError, IncorrectPasswordError, UserNotFoundError
from src.models import TodoCreate, User, UserCreate, UserUpdate
from src.security.passwords import failed_login_budget
from tests.conftest import (
    KNOWN_PASSWORD,
    KNOWN_PASSWORD_HASH,
    add_user,
    add_user_async,
    table_snapshot,
    uid,
)
from tests.integration.test_passwords_migrated_in import bcrypt_hash

CURRENT = SecretStr(KNOWN_PASSWORD)
NEW = SecretStr("a brand new passphrase")
WRONG = SecretStr("not the password at all")

unchecked: Any = crud  # the argument-rule tests pass wrong types on purpose


def change(current: SecretStr = CURRENT, **fields: Any) -> UserUpdate:
    return UserUpdate(current_password=current, **fields)


def logs_in(session: Session, email: str, password: SecretStr) -> bool:
    return crud.authenticate(session, email, password) is not None


@pytest.mark.parametrize(
    ("sent", "key"),
    [
        (" Ann.New@EXAMPLE.com\n", "ann.new@example.com"),
        ("ann@xn--bcher-kva.de", "ann@bücher.de"),
        ("Ann <\uff41\uff4e\uff4e@Example.org>", "ann@example.org"),  # fullwidth, display name
    ],
)
def test_a_new_email_is_stored_as_its_key_and_logs_in_in_any_spelling(
    session: Session, ann: User, sent: str, key: str
) -> None:
    changed = crud.update_user(session, uid(ann), change(email=sent))
    assert changed is ann  # the held copy is the account as it is now
    assert (ann.email, ann.hashed_password) == (key, KNOWN_PASSWORD_HASH)
    assert logs_in(session, sent, CURRENT)
    assert logs_in(session, key.upper(), CURRENT)
    assert not logs_in(session, "ann@example.com", CURRENT)
    assert crud.get_user_by_email(session, "ann@example.com") is None


@pytest.mark.parametrize(
    "spelling",
    [
        "BOB@example.com",
        " bob@example.com\n",
        "\uff42\uff4f\uff42@example.com",
        "Bob <bob@EXAMPLE.com>",
    ],
)
def test_an_email_another_account_has_in_any_spelling_is_a_duplicate_and_nothing_changes(
    session: Session, ann: User, bob: User, spelling: str
) -> None:
    before = table_snapshot(session)
    with pytest.raises(DuplicateEmailError):  # the new password did not go in either
        crud.update_user(session, uid(ann), change(email=spelling, new_password=NEW))
    assert table_snapshot(session) == before
    assert ann.email == "ann@example.com"
    assert logs_in(session, "ann@example.com", CURRENT)


def test_the_accounts_own_email_in_another_spelling_is_no_conflict(
    session: Session, ann: User
) -> None:
    assert crud.update_user(session, uid(ann), change(email="ANN@Example.COM")).email == (
        "ann@example.com"
    )


def test_a_new_password_is_stored_as_an_argon2id_hash_and_only_it_logs_in(
    session: Session, ann: User
) -> None:
    crud.update_user(session, uid(ann), change(new_password=NEW))
    assert ann.hashed_password.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert NEW.get_secret_value() not in ann.hashed_password
    assert (ann.email, ann.is_active) == ("ann@example.com", True)
    assert logs_in(session, "ann@example.com", NEW)
    assert not logs_in(session, "ann@example.com", CURRENT)


def test_email_and_password_change_together(session: Session, ann: User) -> None:
    crud.update_user(session, uid(ann), change(email="new@example.com", new_password=NEW))
    assert logs_in(session, "new@example.com", NEW)
    assert not logs_in(session, "new@example.com", CURRENT)


HOLDER_CHANGES: dict[str, Callable[[Session, int, SecretStr], object]] = {
    "email": lambda s, u, p: crud.update_user(s, u, change(p, email="new@example.com")),
    "password": lambda s, u, p: crud.update_user(s, u, change(p, new_password=NEW)),
    "both": lambda s, u, p: crud.update_user(
        s, u, change(p, email="new@example.com", new_password=NEW)
    ),
    "an email another account has": lambda s, u, p: crud.update_user(
        s, u, change(p, email="bob@example.com")
    ),
    "deactivation": crud.deactivate_user,
}


@pytest.mark.parametrize("make", HOLDER_CHANGES.values(), ids=HOLDER_CHANGES.keys())
def test_a_wrong_current_password_is_refused_naming_the_field_and_nothing_changes(
    session: Session, ann: User, bob: User, make: Callable[[Session, int, SecretStr], object]
) -> None:
    """Checked before anything else: a taken email is not revealed without the password."""
    before = table_snapshot(session)
    with pytest.raises(IncorrectPasswordError) as caught:
        make(session, uid(ann), WRONG)
    assert caught.value.field == "current_password"
    assert str(caught.value) == "current_password: does not match the account's password"
    assert table_snapshot(session) == before
    assert logs_in(session, "ann@example.com", CURRENT)


def test_deactivation_refuses_login_and_keeps_the_account_and_its_todos(
    session: Session, ann: User
) -> None:
    for title in ("first", "second"):
        crud.create_todo(session, uid(ann), TodoCreate(title=title))
    before = table_snapshot(session)
    assert crud.deactivate_user(session, uid(ann), CURRENT) is ann
    assert ann.is_active is False
    assert not logs_in(session, "ann@example.com", CURRENT)
    assert crud.count_todos(session, uid(ann)).total == 2
    assert _without_state(table_snapshot(session)) == _without_state(before)
    crud.set_active(session, uid(ann), True)  # the operator opens it again
    assert logs_in(session, "ann@example.com", CURRENT)
    assert _without_state(table_snapshot(session)) == _without_state(before)


USER_COLUMNS = list(inspect(User).local_table.c.keys())
STATE = {USER_COLUMNS.index("is_active"), USER_COLUMNS.index("updated_at")}


def _without_state(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Every row without what (de)activation changes: a user's `is_active` and `updated_at`."""
    users = len(USER_COLUMNS)  # todo rows have another length
    return [
        tuple(v for i, v in enumerate(row) if i not in STATE) if len(row) == users else row
        for row in rows
    ]


def test_the_operator_switch_changes_only_the_state_either_way(session: Session, ann: User) -> None:
    assert crud.set_active(session, uid(ann), False).is_active is False
    assert crud.set_active(session, uid(ann), False).is_active is False  # twice: still off
    assert (ann.email, ann.hashed_password) == ("ann@example.com", KNOWN_PASSWORD_HASH)
    assert crud.set_active(session, uid(ann), True).is_active is True


def test_a_deactivated_account_changes_nothing_even_with_its_password(
    session: Session, ann: User
) -> None:
    crud.set_active(session, uid(ann), False)
    before = table_snapshot(session)
    for make in HOLDER_CHANGES.values():
        with pytest.raises(IncorrectPasswordError):
            make(session, uid(ann), CURRENT)
    assert table_snapshot(session) == before


def test_a_missing_account_is_not_found_by_every_change(session: Session) -> None:
    for make in HOLDER_CHANGES.values():
        with pytest.raises(UserNotFoundError):
            make(session, 2**63 - 1, CURRENT)
    with pytest.raises(UserNotFoundError):
        crud.set_active(session, 2**63 - 1, True)


# Timing: side by side, round by round; each failure waits out the failed-login budget.
ROUNDS = 3


def test_a_deactivated_login_and_a_failed_change_last_as_long_as_a_wrong_password(
    session: Session, ann: User, bob: User
) -> None:
    crud.set_active(session, uid(bob), False)
    cases: dict[str, Callable[[], object]] = {
        "wrong password": lambda: crud.authenticate(session, "ann@example.com", WRONG),
        "deactivated, right password": lambda: crud.authenticate(
            session, "bob@example.com", CURRENT
        ),
        "change, wrong current password": lambda: _refused(
            lambda: crud.update_user(session, uid(ann), change(WRONG, email="x@example.com"))
        ),
    }
    times: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(ROUNDS):
        for case, attempt in cases.items():
            started = time.perf_counter()
            assert attempt() is None
            times[case].append(time.perf_counter() - started)
    assert min(min(values) for values in times.values()) >= failed_login_budget()
    medians = [statistics.median(values) for values in times.values()]
    assert max(medians) / min(medians) < 1.5, times


def _refused(attempt: Callable[[], object]) -> None:
    with pytest.raises(IncorrectPasswordError):
        attempt()


def test_a_hash_the_check_replaces_is_stored_with_the_change(session: Session) -> None:
    """As a login re-hashes a migrated bcrypt hash, so does the check of a change."""
    old = User.model_validate(
        {"email": "old@example.com", "hashed_password": bcrypt_hash(KNOWN_PASSWORD)}
    )
    session.add(old)
    session.commit()
    crud.update_user(session, uid(old), change(email="renamed@example.com"))
    assert old.hashed_password.startswith("$argon2id$")
    assert logs_in(session, "renamed@example.com", CURRENT)


MEANWHILE: dict[str, Callable[[Session, int], object]] = {
    "the password changed": lambda s, u: crud.update_user(s, u, change(new_password=NEW)),
    "the holder deactivated it": lambda s, u: crud.deactivate_user(s, u, CURRENT),
    "an operator deactivated it": lambda s, u: crud.set_active(s, u, False),
}


@pytest.mark.parametrize("meanwhile", MEANWHILE.values(), ids=MEANWHILE.keys())
def test_a_change_confirmed_before_another_request_changed_the_account_is_refused(
    session: Session, engine: Engine, ann: User, meanwhile: Callable[[Session, int], object]
) -> None:
    """The two halves of `update_user` with another request between them: the change is
    stored only on the account as it was checked, so the other request's outcome stands."""
    account = accounts.account_to_change(session, uid(ann))
    proof = accounts.confirmed(account, users.check_login(account, CURRENT))
    with Session(engine) as another_request:
        meanwhile(another_request, uid(ann))
        after = table_snapshot(another_request)
    with pytest.raises(IncorrectPasswordError):
        accounts.store_change(session, proof, {"email": "taken-over@example.com"})
    assert table_snapshot(session) == after


@pytest.mark.parametrize(
    ("call", "location"),
    [
        (lambda s: crud.update_user(s, 0, change()), ("user_id",)),
        (lambda s: unchecked.update_user(s, 1, 42), ("data",)),
        (lambda s: unchecked.update_user(s, 1, "ann@example.com"), ("data",)),
        (
            lambda s: crud.update_user(
                s,
                1,
                UserUpdate.model_construct(
                    current_password=CURRENT, new_password=SecretStr("tiny-pw")
                ),
            ),
            ("data", "new_password"),
        ),
        (
            lambda s: crud.update_user(
                s, 1, UserUpdate.model_construct(current_password=CURRENT, email="no address")
            ),
            ("data", "email"),
        ),
        (
            lambda s: crud.update_user(
                s, 1, UserUpdate.model_construct(current_password=SecretStr("p" * 129))
            ),
            ("data", "current_password"),
        ),
        (lambda s: unchecked.deactivate_user(s, 1, 12345678), ("current_password",)),
        (lambda s: crud.deactivate_user(s, 1, SecretStr("p" * 129)), ("current_password",)),
        (lambda s: unchecked.set_active(s, 1, 1), ("active",)),
        (lambda s: unchecked.set_active(s, 1, "false"), ("active",)),
        (lambda s: crud.set_active(s, -1, True), ("user_id",)),
    ],
)
def test_bad_arguments_are_refused_by_name_before_any_sql(
    session: Session, call: Callable[[Session], object], location: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        call(session)
    assert caught.value.errors()[0]["loc"][: len(location)] == location
    assert "tiny-pw" not in str(caught.value.errors())
    assert "ppppppp" not in str(caught.value.errors())


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({}, "current_password"),
        ({"current_password": "x", "email": None}, "email"),
        ({"current_password": "x", "new_password": None}, "new_password"),
        ({"current_password": "x", "new_password": "tiny-pw"}, "new_password"),
        ({"current_password": "x", "new_password": "p" * 129}, "new_password"),
        ({"current_password": "x", "new_password": "nul \x00 password"}, "new_password"),
        ({"current_password": "x", "email": "ann@localhost"}, "email"),
        ({"current_password": "x", "is_active": True}, "is_active"),
        ({"current_password": "x", "hashed_password": KNOWN_PASSWORD_HASH}, "hashed_password"),
        ({"current_password": "x", "id": 2}, "id"),
    ],
)
def test_a_change_breaking_a_rule_names_the_field(sent: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        UserUpdate.model_validate(sent)
    assert caught.value.errors()[0]["loc"][0] == field
    assert "tiny-pw" not in str(caught.value)


def test_registration_cannot_set_the_state() -> None:
    with pytest.raises(ValidationError) as caught:
        UserCreate.model_validate(
            {"email": "a@b.io", "password": "long enough pw", "is_active": False}
        )
    assert caught.value.errors()[0]["loc"] == ("is_active",)


def test_no_password_reaches_a_message_or_repr(session: Session, ann: User) -> None:
    secret = "my very secret passphrase"
    data = change(SecretStr(secret), new_password=SecretStr(secret + "!"))
    with pytest.raises(IncorrectPasswordError) as caught:
        crud.update_user(session, uid(ann), data)
    proof = accounts.confirmed(ann, (True, None))
    for text in (str(caught.value), repr(data), str(data), repr(proof), repr(ann)):
        assert secret not in text
        assert KNOWN_PASSWORD_HASH not in text


# The asyncio path: the same operations through `src.crud.aio`.


async def test_async_email_and_password_change_and_a_duplicate(
    async_session: AsyncSession,
) -> None:
    ann = await add_user_async(async_session, "ann@example.com")
    await add_user_async(async_session, "bob@example.com")
    changed = await aio.update_user(
        async_session, ann, change(email=" ANN.new@example.com", new_password=NEW)
    )
    assert changed.email == "ann.new@example.com"
    assert await aio.authenticate(async_session, "ann.new@example.com", NEW) is not None
    assert await aio.authenticate(async_session, "ann.new@example.com", CURRENT) is None
    with pytest.raises(DuplicateEmailError):
        await aio.update_user(async_session, ann, change(NEW, email="BOB@example.com"))
    with pytest.raises(IncorrectPasswordError):
        await aio.update_user(async_session, ann, change(CURRENT, email="x@example.com"))
    found = await aio.get_user(async_session, ann)
    assert found is not None
    assert found.email == "ann.new@example.com"


async def test_async_deactivation_refuses_login_until_the_operator_reactivates(
    async_session: AsyncSession,
) -> None:
    ann = await add_user_async(async_session, "ann@example.com")
    await aio.create_todo(async_session, ann, TodoCreate(title="kept"))
    with pytest.raises(IncorrectPasswordError):
        await aio.deactivate_user(async_session, ann, WRONG)
    assert (await aio.deactivate_user(async_session, ann, CURRENT)).is_active is False
    started = time.perf_counter()
    assert await aio.authenticate(async_session, "ann@example.com", CURRENT) is None
    assert time.perf_counter() - started >= failed_login_budget()
    with pytest.raises(IncorrectPasswordError):
        await aio.update_user(async_session, ann, change(email="x@example.com"))
    assert (await aio.count_todos(async_session, ann)).total == 1
    await aio.set_active(async_session, ann, True)
    assert await aio.authenticate(async_session, "ann@example.com", CURRENT) is not None


async def test_async_bad_arguments_are_refused_by_name(async_session: AsyncSession) -> None:
    for call, location in [
        (aio.update_user(async_session, 0, change()), "user_id"),
        (aio.deactivate_user(async_session, 1, SecretStr("p" * 129)), "current_password"),
        (unchecked_aio.set_active(async_session, 1, "yes"), "active"),
    ]:
        with pytest.raises(ValidationError) as caught:
            await call
        assert caught.value.errors()[0]["loc"][0] == location


unchecked_aio: Any = aio


# Nothing is held while a password is checked or hashed.


def _pool_in_use(engine: Engine) -> int:
    checked_out: Callable[[], int] | None = getattr(engine.pool, "checkedout", None)
    return 0 if checked_out is None else checked_out()  # StaticPool: SQLite in memory


@pytest.fixture
def record_hashing(monkeypatch: pytest.MonkeyPatch) -> Callable[[AnySession, Engine], list[Any]]:
    """At every hash and check: whether a transaction or pooled connection is held."""

    def watch(session: AnySession, engine: Engine) -> list[Any]:
        seen: list[Any] = []
        from src.security import passwords

        for module, name in [
            (accounts, "hash_password"),
            (aio, "hash_password"),
            (passwords, "verify_password"),
            (passwords, "burn_verification_time"),
        ]:
            real = getattr(module, name)

            def recording(*args: Any, _real: Any = real, _name: str = name) -> Any:
                seen.append((_name, session.in_transaction(), _pool_in_use(engine)))
                return _real(*args)

            monkeypatch.setattr(module, name, recording)
        return seen

    return watch


def test_nothing_is_held_while_a_change_is_checked_or_hashed(
    session: Session, engine: Engine, record_hashing: Callable[[AnySession, Engine], list[Any]]
) -> None:
    ann = uid(add_user(session, "ann@example.com"))
    seen = record_hashing(session, engine)
    crud.update_user(session, ann, change(new_password=NEW))
    with pytest.raises(IncorrectPasswordError):
        crud.deactivate_user(session, ann, CURRENT)  # no longer the password
    crud.deactivate_user(session, ann, NEW)
    assert [name for name, *_ in seen] == [
        "verify_password",
        "hash_password",
        "verify_password",
        "verify_password",
    ]
    assert {(in_transaction, in_use) for _, in_transaction, in_use in seen} == {(False, 0)}


async def test_nothing_is_held_while_a_change_is_checked_or_hashed_on_the_async_path(
    async_session: AsyncSession,
    async_engine: AsyncEngine,
    record_hashing: Callable[[AnySession, Engine], list[Any]],
) -> None:
    ann = await add_user_async(async_session, "ann@example.com")
    seen = record_hashing(async_session.sync_session, async_engine.sync_engine)
    await aio.update_user(async_session, ann, change(new_password=NEW))
    await aio.deactivate_user(async_session, ann, NEW)
    assert await aio.authenticate(async_session, "ann@example.com", NEW) is None
    assert [name for name, *_ in seen] == [
        "verify_password",
        "hash_password",
        "verify_password",
        "burn_verification_time",  # deactivated: the decoy, as for no account
    ]
    assert {(in_transaction, in_use) for _, in_transaction, in_use in seen} == {(False, 0)}
