"""`ActiveAccounts`: a deactivated account's token is refused, asking the database rarely.

Counted, not timed: how many times the reader (one query in a service) is
asked for how many requests. A stand-in app, a header verifier and a reader
whose answers the test sets; the example services use it with the database
in `tests/api/test_account_endpoints.py`.
"""

# No `from __future__ import annotations`: FastAPI reads these endpoints' annotations,
# which name dependencies made inside the tests.
import math
import time
from collections.abc import Callable
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.testclient import TestClient

from src.api import register_error_handlers
from src.api.active_accounts import ActiveAccounts


class Reader:
    """The database stand-in: which ids are active, and every id it was asked about."""

    def __init__(self) -> None:
        self.active: set[int] = set()
        self.asked: list[int] = []
        self.while_asked: Callable[[], None] = lambda: None

    async def __call__(self, user_id: int) -> bool:
        self.asked.append(user_id)
        answer = user_id in self.active  # as the database read it
        self.while_asked()  # what happens before the answer reaches the service
        return answer


async def header_verifier(x_user: Annotated[int | None, Header()] = None) -> int:
    if x_user is None:
        raise HTTPException(401, "no user", headers={"WWW-Authenticate": "Bearer"})
    return x_user


def client_for(accounts: ActiveAccounts) -> TestClient:
    app = FastAPI()
    register_error_handlers(app)
    current_user_id = Annotated[int, Depends(accounts.current_user_id(header_verifier))]

    @app.get("/me")
    async def me(user_id: current_user_id) -> int:
        return user_id

    return TestClient(app, raise_server_exceptions=False)


def get(client: TestClient, user_id: int | str) -> int:
    return client.get("/me", headers={"X-User": str(user_id)}).status_code


@pytest.fixture
def reader() -> Reader:
    return Reader()


def test_an_account_found_active_is_asked_about_once_in_its_window(reader: Reader) -> None:
    reader.active = {1, 2}
    client = client_for(ActiveAccounts(reader, recheck_after_s=3600))
    assert [get(client, 1) for _ in range(5)] + [get(client, 2) for _ in range(5)] == [200] * 10
    assert reader.asked == [1, 2]


def test_once_the_window_has_passed_it_is_asked_again(reader: Reader) -> None:
    reader.active = {1}
    client = client_for(ActiveAccounts(reader, recheck_after_s=0.05))
    assert get(client, 1) == 200
    reader.active = set()  # deactivated by another process
    time.sleep(0.06)
    assert get(client, 1) == 401
    assert reader.asked == [1, 1]


def test_a_window_of_zero_asks_at_every_request(reader: Reader) -> None:
    reader.active = {1}
    client = client_for(ActiveAccounts(reader, recheck_after_s=0))
    assert [get(client, 1) for _ in range(3)] == [200] * 3
    assert reader.asked == [1, 1, 1]


def test_a_deactivated_or_missing_account_is_refused_at_every_request_and_admitted_once_active(
    reader: Reader,
) -> None:
    client = client_for(ActiveAccounts(reader, recheck_after_s=3600))
    answer = client.get("/me", headers={"X-User": "1"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert answer.json() == {"detail": "the bearer token names no active account (sub)"}
    assert [get(client, 1) for _ in range(2)] == [401, 401]
    reader.active = {1}  # reactivated: not remembered as refused
    assert get(client, 1) == 200
    assert reader.asked == [1, 1, 1, 1]


def test_forget_makes_the_next_request_ask(reader: Reader) -> None:
    reader.active = {1}
    accounts = ActiveAccounts(reader, recheck_after_s=3600)
    client = client_for(accounts)
    assert get(client, 1) == 200
    reader.active = set()
    accounts.forget(1)  # what the deactivating endpoint does
    assert get(client, 1) == 401


def test_an_answer_asked_for_before_a_forget_is_not_remembered(reader: Reader) -> None:
    """The account was read as active, then deactivated (and forgotten) before the answer
    came back: that request passes, as it would have a moment earlier, the next one asks."""
    reader.active = {1}
    accounts = ActiveAccounts(reader, recheck_after_s=3600)

    def deactivated_meanwhile() -> None:
        reader.active = set()
        accounts.forget(1)

    reader.while_asked = deactivated_meanwhile
    client = client_for(accounts)
    assert get(client, 1) == 200
    reader.while_asked = lambda: None
    assert get(client, 1) == 401
    assert reader.asked == [1, 1]


def test_what_is_remembered_is_bounded_the_answer_asked_longest_ago_dropped_first(
    reader: Reader,
) -> None:
    reader.active = {1, 2, 3}
    client = client_for(ActiveAccounts(reader, recheck_after_s=3600, max_remembered=2))
    for user_id in (1, 2, 1, 3, 2, 1):  # 3 drops 1, asked longest ago; 1 then drops 2
        assert get(client, user_id) == 200
    assert reader.asked == [1, 2, 3, 1]


def test_the_verifier_decides_first_and_the_reader_is_not_asked(reader: Reader) -> None:
    client = client_for(ActiveAccounts(reader))
    assert client.get("/me").status_code == 401  # no credentials: the verifier's 401
    assert get(client, 0) == 500  # not a user id: a server fault, never read
    assert reader.asked == []


@pytest.mark.parametrize(
    ("options", "rule"),
    [
        ({"recheck_after_s": -1}, "recheck_after_s"),
        ({"recheck_after_s": math.nan}, "recheck_after_s"),
        ({"max_remembered": 0}, "max_remembered"),
    ],
)
def test_settings_out_of_range_are_refused(options: dict[str, float], rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        ActiveAccounts(Reader(), **options)  # type: ignore[arg-type]
