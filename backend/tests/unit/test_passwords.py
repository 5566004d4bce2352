"""`src.security.passwords` on its own: what a password may be, and how long a failure lasts.

Failed checks are held to `failed_login_budget()` (the lower bound is what
`time.sleep` guarantees); the bounds on the other side are generous, for a
busy 2-core machine. That the budget makes the kinds of account alike is
shown side by side, through `authenticate`, in
`tests/integration/test_passwords_migrated_in.py`.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bcrypt
import pytest
from pydantic import SecretStr

from src.security.passwords import (
    check_password,
    check_password_async,
    failed_login_budget,
    hash_password,
    verify_password,
)

PASSWORD = "a password as typed"


@pytest.mark.parametrize("given", [PASSWORD, SecretStr(PASSWORD)], ids=["str", "SecretStr"])
def test_hash_password_and_verify_password_take_a_str_or_a_secretstr(given: Any) -> None:
    made = hash_password(given)
    assert made.startswith("$argon2id$")
    assert verify_password(given, made) == (True, None)
    assert verify_password(PASSWORD, made) == verify_password(SecretStr(PASSWORD), made)
    migrated = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    valid, replacement = verify_password(given, migrated)
    assert valid
    assert replacement is not None
    assert verify_password(PASSWORD, replacement) == (True, None)


@pytest.mark.parametrize("given", [PASSWORD.encode(), 12345678, None, [PASSWORD]])
def test_a_password_of_another_type_is_a_type_error_that_does_not_show_it(given: Any) -> None:
    for call in (lambda: hash_password(given), lambda: verify_password(given, hash_password("x"))):
        with pytest.raises(TypeError, match="password must be str or SecretStr") as caught:
            call()
        assert PASSWORD not in str(caught.value)
        assert "12345678" not in str(caught.value)


def hashes_of_every_kind() -> dict[str, str | None]:
    bcrypt_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    return {
        "no account": None,
        "Argon2id": hash_password(PASSWORD),
        "bcrypt": bcrypt_hash,
        "bcrypt with a cost bcrypt refuses": bcrypt_hash[:4] + "03" + bcrypt_hash[6:],
    }


def test_every_failed_check_lasts_the_budget_whatever_it_checked() -> None:
    budget = failed_login_budget()
    for kind, stored in hashes_of_every_kind().items():
        started = time.monotonic()
        assert check_password("wrong password", stored) == (False, None), kind
        assert budget <= time.monotonic() - started < 2 * budget, kind


def test_a_successful_check_does_not_wait_out_the_budget() -> None:
    stored = hash_password(PASSWORD)
    started = time.monotonic()
    assert check_password(PASSWORD, stored) == (True, None)
    assert time.monotonic() - started < failed_login_budget() / 2


async def test_every_failed_async_check_lasts_the_budget_whatever_it_checked() -> None:
    budget = failed_login_budget()
    for kind, stored in hashes_of_every_kind().items():
        started = time.monotonic()
        assert await check_password_async("wrong password", stored) == (False, None), kind
        assert budget <= time.monotonic() - started < 2 * budget, kind


async def test_a_failed_async_check_waits_on_the_event_loop_holding_no_thread() -> None:
    """With one worker thread, five failed logins at once end together, after about one
    budget (their Argon2 checks take turns); waiting in the thread would take five."""
    budget = failed_login_budget()
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))
    started = time.monotonic()
    checks = [check_password_async("wrong password", None) for _ in range(5)]
    assert await asyncio.gather(*checks) == [(False, None)] * 5
    assert time.monotonic() - started < 2.5 * budget
