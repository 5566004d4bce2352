"""One key per email, used at registration and at every lookup; odd input never crashes.

The policy (data-model.md): NFKC, display name dropped, Unicode domain,
lower case; no case folding, so `straße@` and `STRASSE@` are two accounts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import idna
import pytest
from alembic.script import ScriptDirectory
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session

from src import crud
from src.crud import aio
from src.database.migrations import alembic_config
from src.errors import DuplicateEmailError
from src.models import UserCreate, email_key
from src.models.user import email_key_or_none

PASSWORD = SecretStr("right password")
REGISTERED = "ann@xn--bcher-kva.de"
SAME_ACCOUNT = [
    REGISTERED,
    "ann@bücher.de",
    "ANN@BÜCHER.DE",
    "Ann <ann@xn--bcher-kva.de>",
    "\uff41\uff4e\uff4e@bücher\u3002de",  # fullwidth letters, ideographic full stop
    "  ann@XN--BCHER-KVA.de\t",
    "ann@bu\u0308cher.de",  # decomposed ü
]
NOT_AN_ACCOUNT = [
    "",
    " ",
    "\x00",
    "ann\x00@bücher.de",
    "@",
    "a@b@c.de",
    "x" * 320,
    "ann@bücher.de\x00",
    "\u200bann@bücher.de",
]


def test_the_key_is_idempotent() -> None:
    for spelling in [*SAME_ACCOUNT, "straße@x.de", "STRASSE@x.de"]:
        assert email_key(email_key(spelling)) == email_key(spelling)
    assert {email_key(spelling) for spelling in SAME_ACCOUNT} == {"ann@bücher.de"}


def test_every_spelling_of_a_registered_email_finds_and_authenticates_it(
    session: Session,
) -> None:
    user = crud.create_user(session, UserCreate(email=REGISTERED, password=PASSWORD))
    assert user.email == "ann@bücher.de"
    for spelling in SAME_ACCOUNT:
        assert crud.get_user_by_email(session, spelling) == user, spelling
        assert crud.authenticate(session, spelling, PASSWORD) == user, spelling
        with pytest.raises(DuplicateEmailError):
            crud.create_user(session, UserCreate(email=spelling, password=PASSWORD))


def test_addresses_equal_only_under_case_folding_are_two_accounts(session: Session) -> None:
    sharp = crud.create_user(session, UserCreate(email="straße@x.de", password=PASSWORD))
    double = crud.create_user(session, UserCreate(email="STRASSE@x.de", password=PASSWORD))
    assert sharp.id != double.id
    assert crud.get_user_by_email(session, "STRAßE@X.DE") == sharp


@pytest.mark.parametrize("odd", NOT_AN_ACCOUNT)
def test_odd_lookups_answer_not_found_on_every_backend(session: Session, odd: str) -> None:
    crud.create_user(session, UserCreate(email=REGISTERED, password=PASSWORD))
    assert crud.get_user_by_email(session, odd) is None
    assert crud.authenticate(session, odd, PASSWORD) is None
    assert crud.get_user_by_email(session, REGISTERED) is not None  # the session still works


REFUSED_AS_ARGUMENT = ["a" * 321, "a" * 100_000 + "@x.de", "\ud800@example.com", "ann@\udfff.de"]


@pytest.mark.parametrize("refused", REFUSED_AS_ARGUMENT)
def test_overlong_or_non_text_lookups_are_typed_validation_errors(
    session: Session, refused: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        crud.get_user_by_email(session, refused)
    assert caught.value.errors()[0]["loc"] == ("email",)
    with pytest.raises(ValidationError) as caught:
        crud.authenticate(session, refused, PASSWORD)
    assert caught.value.errors()[0]["loc"] == ("email",)


async def test_async_lookups_use_the_same_key_and_never_crash(async_session: AsyncSession) -> None:
    user = await aio.create_user(async_session, UserCreate(email=REGISTERED, password=PASSWORD))
    for spelling in SAME_ACCOUNT:
        assert await aio.authenticate(async_session, spelling, PASSWORD) == user
    for odd in NOT_AN_ACCOUNT:
        assert await aio.get_user_by_email(async_session, odd) is None
        assert await aio.authenticate(async_session, odd, PASSWORD) is None
    for refused in REFUSED_AS_ARGUMENT:
        with pytest.raises(ValidationError):
            await aio.authenticate(async_session, refused, PASSWORD)


# The newest revision that re-keys stored emails keeps its own frozen copy of the key.
# Changing `email_key` fails the two tests below: it needs a revision re-keying what is stored.
STORED_KEY = cast(
    "Callable[[str], str | None]",
    ScriptDirectory.from_config(alembic_config()).get_revision("0006").module.email_key,
)
UNICODE_LABELS = ["bücher", "münchen", "straße", "日本語", "пример", "café", "bu\u0308cher"]
FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}


def test_the_key_the_migration_stores_is_the_key_lookups_compute() -> None:
    examples = [*SAME_ACCOUNT, *NOT_AN_ACCOUNT, *REFUSED_AS_ARGUMENT, "straße@x.de"]
    examples += ["ann@xn--bcher-kva.de\n", "\u3000ann@x.de", "ﬁ@x.de", "ann@x", "İ@x.de"]
    for spelling in examples:
        assert STORED_KEY(spelling) == email_key_or_none(spelling), repr(spelling)


@st.composite
def spellings(draw: st.DrawFn) -> str:
    """An address as someone may have stored it: cased, fullwidth, padded, punycode, named."""
    address = draw(st.emails())
    local, _, domain = address.rpartition("@")
    if draw(st.booleans()):
        domain = f"{draw(st.sampled_from(UNICODE_LABELS))}.{domain}"
        if draw(st.booleans()):
            domain = idna.encode(domain, uts46=True).decode("ascii")  # xn--...
    spelling = f"{local}@{domain}"
    if draw(st.booleans()):
        spelling = spelling.upper()
    if draw(st.booleans()):
        spelling = "".join(FULLWIDTH.get(c, c) for c in spelling)
    if draw(st.booleans()):
        spelling = f"Someone <{spelling}>"
    padding = st.text(st.sampled_from(" \t\n\r\x0b\x0c\u3000\u00a0\u2003"), max_size=3)
    return draw(padding) + spelling + draw(padding)


@given(st.one_of(spellings(), st.text(max_size=40)))
def test_the_stored_key_equals_the_lookup_key_for_any_spelling(spelling: str) -> None:
    key = STORED_KEY(spelling)
    assert key == email_key_or_none(spelling)
    if key is not None:
        assert STORED_KEY(key) == key  # so re-keying one row never takes another's value
