"""After the upgrade every stored account is found by the spelling that was stored.

Emails stored before 0004 in any form the CHECK allowed (punycode, padding, a
trailing newline, fullwidth letters, a display name...) are re-keyed with the
key registration and lookup compute, so `get_user_by_email(stored spelling)`
and a login with it find the account. A database that already ran the old
0004, which keyed with NFKC and lower case only, is repaired by 0006 and ends
exactly as a fresh one. Two accounts with one key stop the upgrade, naming
both, whichever comes first; nothing is changed.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlmodel import Session

from src import crud
from src.database.connection import build_engine
from src.database.migrations import downgrade_to, upgrade_to, upgrade_to_head
from src.models import email_key
from tests.conftest import KNOWN_PASSWORD, KNOWN_PASSWORD_HASH, settings_for

BEFORE_REKEYING = "0003"
OLD_REKEYING_DONE = "0005"  # what a database that ran the first 0004 is at
STORED = [  # lower case, as the CHECK has required since 0001
    "ann@xn--bcher-kva.de",
    "  bob@example.com  ",
    "cal@example.com\n",
    "\tdan@example.com\r\n",
    "\uff45\uff56\uff45@example.com",  # fullwidth eve
    "ﬁn@example.com",
    "gus@bücher。de",
    "hal <hal@example.com>",
    "ivy@xn--mnchen-3ya.de",
    "jo@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # fullwidth example
    "\u3000kim@example.com",
    "leo@bu\u0308cher.de",
    "max@xn--bcher-kva.de\n",
    "ned@example.com",
]
NOT_ADDRESSES = ["not an address", "oz@localhost"]  # kept, as they are: no login finds them


def old_0004_key(email: str) -> str:
    """What the first 0004 stored: NFKC and lower case, nothing more."""
    return unicodedata.normalize("NFKC", email).lower()


@pytest.fixture(params=["sqlite", "postgresql"])
def engines(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Engine]]:
    """Two empty databases of one backend (a fresh one and one to compare with)."""
    made: list[Engine] = []
    for n in (1, 2):
        if request.param == "sqlite":
            url: str | URL = f"sqlite:///{tmp_path / f'keys{n}.db'}"
        else:
            url = request.getfixturevalue("fresh_postgres")()
        made.append(build_engine(settings_for(url)))
    yield made
    for engine in made:
        engine.dispose()


def store(engine: Engine, revision: str, emails: list[str]) -> None:
    """Bring `engine` to `revision` and store one account per email, ids 1, 2, ... in order."""
    upgrade_to(revision, engine)
    with engine.begin() as connection:
        for user_id, email in enumerate(emails, start=1):
            connection.execute(
                text('INSERT INTO "user" (id, email, hashed_password) VALUES (:id, :email, :h)'),
                {"id": user_id, "email": email, "h": KNOWN_PASSWORD_HASH},
            )


def accounts(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(text('SELECT id, email FROM "user" ORDER BY id'))
        return [(int(user_id), str(email)) for user_id, email in rows]


def version(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())


def assert_each_found_by(engine: Engine, spellings: list[str]) -> None:
    """Account n is found, and logs in, by the n-th spelling: the lookup's own key."""
    with Session(engine) as session:
        for user_id, spelling in enumerate(spellings, start=1):
            found = crud.get_user_by_email(session, spelling)
            assert found is not None, f"{spelling!r} no longer finds its account"
            assert found.id == user_id, repr(spelling)
            login = crud.authenticate(session, spelling, SecretStr(KNOWN_PASSWORD))
            assert login is not None, repr(spelling)


def test_every_stored_spelling_finds_its_account_after_the_upgrade(
    engines: list[Engine], caplog: pytest.LogCaptureFixture
) -> None:
    engine = engines[0]
    stored = list(STORED)
    if engine.dialect.name == "sqlite":  # whose lower() in the CHECK knows only ASCII
        stored += ["\u00dclla@example.com", "zo\u00cb@b\u00dccher.de"]  # Ü, Ë: upper case
    store(engine, BEFORE_REKEYING, stored + NOT_ADDRESSES)
    with caplog.at_level(logging.WARNING, logger="src.migrations"):
        upgrade_to_head(engine)
    assert_each_found_by(engine, stored)
    kept = [(len(stored) + n, email) for n, email in enumerate(NOT_ADDRESSES, start=1)]
    assert accounts(engine)[len(stored) :] == kept
    named = ", ".join(str(user_id) for user_id, _email in kept)
    assert f"users {named} have a stored email that is not an address" in caplog.text


def test_a_database_keyed_by_the_old_0004_ends_as_a_fresh_one(engines: list[Engine]) -> None:
    fresh, keyed_before = engines
    store(fresh, BEFORE_REKEYING, STORED + NOT_ADDRESSES)
    upgrade_to_head(fresh)
    store(keyed_before, OLD_REKEYING_DONE, [old_0004_key(e) for e in STORED + NOT_ADDRESSES])
    upgrade_to_head(keyed_before)
    assert accounts(keyed_before) == accounts(fresh)
    assert [email for _id, email in accounts(fresh)][: len(STORED)] == [
        email_key(e) for e in STORED
    ]
    assert_each_found_by(keyed_before, STORED)
    assert_each_found_by(keyed_before, [old_0004_key(e) for e in STORED])


def test_re_keying_a_database_keyed_right_changes_nothing(engines: list[Engine]) -> None:
    engine = engines[0]
    store(engine, BEFORE_REKEYING, STORED + NOT_ADDRESSES)
    upgrade_to_head(engine)
    keyed = accounts(engine)
    downgrade_to(OLD_REKEYING_DONE, engine)
    assert accounts(engine) == keyed
    upgrade_to_head(engine)
    assert accounts(engine) == keyed


COLLIDING = {  # a stored spelling, and the key it shares with another account
    "punycode and unicode": "ann@xn--bcher-kva.de",
    "trailing newline": "bob@example.com\n",
    "padding": " bob@example.com ",
    "display name": "bob <bob@example.com>",
    "fullwidth (which the old 0004 keyed too)": "\uff42\uff4f\uff42@example.com",
}


@pytest.mark.parametrize("spelling", COLLIDING.values(), ids=COLLIDING.keys())
@pytest.mark.parametrize("first", [True, False], ids=["visited first", "visited second"])
def test_two_accounts_sharing_a_key_stop_the_upgrade_naming_both(
    engines: list[Engine], spelling: str, *, first: bool
) -> None:
    engine = engines[0]
    twins = [spelling, email_key(spelling)]
    emails = ["zoe@example.com", *(twins if first else twins[::-1])]
    store(engine, BEFORE_REKEYING, emails)
    with pytest.raises(RuntimeError, match=r"user\.email: users 2 and 3 have the same email key"):
        upgrade_to_head(engine)
    assert version(engine) == BEFORE_REKEYING
    assert accounts(engine) == list(enumerate(emails, start=1))
