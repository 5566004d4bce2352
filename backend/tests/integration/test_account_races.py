"""Account changes racing on PostgreSQL, as the least-privilege application role.

Real threads released together by a barrier, each on its own session and
pooled connection, committing for real (`race` of `test_concurrency.py`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.engine import URL
from sqlmodel import col

from src import crud
from src.database.connection import build_engine, new_session
from src.errors import DuplicateEmailError, IncorrectPasswordError
from src.models import User, UserCreate, UserUpdate
from src.security.passwords import failed_login_budget
from tests.conftest import KNOWN_PASSWORD, add_user, settings_for, uid
from tests.integration.test_concurrency import THREADS, race

CURRENT = SecretStr(KNOWN_PASSWORD)
SPELLINGS = ["race@example.com", "Race@Example.com", " RACE@EXAMPLE.COM", "Race <race@example.com>"]


@pytest.fixture(scope="module")
def app_engine(postgres_app_url: URL) -> Iterator[Engine]:
    engine = build_engine(settings_for(postgres_app_url, DB_POOL_SIZE=THREADS, DB_MAX_OVERFLOW=0))
    failed_login_budget()  # measured once now: twenty threads would each measure it at once
    yield engine
    engine.dispose()


@pytest.fixture
def clean(app_engine: Engine) -> Iterator[Engine]:
    yield app_engine
    with app_engine.begin() as connection:
        connection.execute(delete(User))


def accounts(engine: Engine, count: int) -> list[int]:
    with new_session(engine) as session:
        return [uid(add_user(session, f"user{i}@example.com")) for i in range(count)]


def holders_of(engine: Engine, email: str) -> int:
    counted = select(func.count()).select_from(User).where(col(User.email) == email)
    with engine.connect() as connection:
        return int(connection.execute(counted).scalar_one())


def test_twenty_accounts_changing_to_one_email_leave_it_to_exactly_one(clean: Engine) -> None:
    ids = accounts(clean, THREADS)

    def rename(i: int) -> User:
        with new_session(clean) as session:
            data = UserUpdate(current_password=CURRENT, email=SPELLINGS[i % len(SPELLINGS)])
            return crud.update_user(session, ids[i], data)

    outcomes = race(clean, rename)
    winners = [o for o in outcomes if isinstance(o, User)]
    duplicates = [o for o in outcomes if isinstance(o, DuplicateEmailError)]
    assert (len(winners), len(duplicates)) == (1, THREADS - 1), outcomes
    assert holders_of(clean, "race@example.com") == 1


def test_registrations_and_changes_to_one_email_leave_it_to_exactly_one(clean: Engine) -> None:
    ids = accounts(clean, THREADS // 2)

    def take(i: int) -> User:
        email = SPELLINGS[i % len(SPELLINGS)]
        with new_session(clean) as session:
            if i % 2:
                data = UserCreate(email=email, password=SecretStr("long enough pw"))
                return crud.create_user(session, data)
            change = UserUpdate(current_password=CURRENT, email=email)
            return crud.update_user(session, ids[i // 2], change)

    outcomes = race(clean, take)
    winners = [o for o in outcomes if isinstance(o, User)]
    duplicates = [o for o in outcomes if isinstance(o, DuplicateEmailError)]
    assert (len(winners), len(duplicates)) == (1, THREADS - 1), outcomes
    assert holders_of(clean, "race@example.com") == 1


def test_concurrent_password_changes_confirmed_by_one_password_let_exactly_one_win(
    clean: Engine,
) -> None:
    """Each was confirmed by the same current password; the first stored makes the others'
    confirmation stale, so they change nothing instead of overwriting it."""
    (ann,) = accounts(clean, 1)
    new = [SecretStr(f"new password number {i}") for i in range(THREADS)]

    def change_password(i: int) -> User:
        with new_session(clean) as session:
            data = UserUpdate(current_password=CURRENT, new_password=new[i])
            return crud.update_user(session, ann, data)

    outcomes = race(clean, change_password)
    won = [i for i, o in enumerate(outcomes) if isinstance(o, User)]
    refused = [o for o in outcomes if isinstance(o, IncorrectPasswordError)]
    assert (len(won), len(refused)) == (1, THREADS - 1), outcomes
    with new_session(clean) as session:
        assert crud.authenticate(session, "user0@example.com", new[won[0]]) is not None
        assert crud.authenticate(session, "user0@example.com", CURRENT) is None


def test_email_changes_racing_a_deactivation_are_stored_before_it_or_not_at_all(
    clean: Engine,
) -> None:
    """The deactivation is stored whatever the order, and no email change overwrites it
    (each writes only its own columns); one that comes after it is refused."""
    (ann,) = accounts(clean, 1)

    def act(i: int) -> User:
        with new_session(clean) as session:
            if i == 0:
                return crud.deactivate_user(session, ann, CURRENT)
            data = UserUpdate(current_password=CURRENT, email=f"renamed{i}@example.com")
            return crud.update_user(session, ann, data)

    outcomes = race(clean, act)
    assert isinstance(outcomes[0], User), outcomes[0]
    stored = {o.email for o in outcomes[1:] if isinstance(o, User)}
    refused = [o for o in outcomes[1:] if isinstance(o, IncorrectPasswordError)]
    assert len(stored) + len(refused) == THREADS - 1, outcomes
    with new_session(clean) as session:
        account = crud.get_user(session, ann)
    assert account is not None
    assert account.is_active is False
    assert account.email in stored | {"user0@example.com"}
