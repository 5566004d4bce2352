"""One key per email, used at registration and at every lookup; odd input never crashes.

The policy (data-model.md): NFKC, display name dropped, Unicode domain,
lower case; no case folding, so `straße@` and `STRASSE@` are two accounts.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session

from src import crud
from src.crud import aio
from src.errors import DuplicateEmailError
from src.models import UserCreate, email_key

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
