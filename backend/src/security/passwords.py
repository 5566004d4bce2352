"""Argon2id password hashing with OWASP's parameters, and logins whose time tells nothing.

Hashes migrated in from another application may be bcrypt (`$2a$`, `$2b$`,
`$2y$`). bcrypt never read past a password's 72nd byte (the bcrypt package
now refuses longer ones), so such a hash is checked against the first 72
bytes; the replacement Argon2id hash is made from the whole password as typed,
so the password that logged in once keeps logging in after the re-hash.

A login calls `check_password` (or `check_password_async`): the verification,
or a decoy one for an unknown email. A failed one returns when
`failed_login_budget()` has passed since it began, whatever it checked, so
its time says neither whether the email exists nor which kind of hash the
account has. A successful one returns at once: its answer says more than its
time could. See research.md for the cost.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import TypeAlias

import bcrypt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from pydantic import SecretStr

# OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB of memory, 2 iterations, 1 lane.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


def _argon2() -> Argon2Hasher:
    return Argon2Hasher(
        time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
    )


_password_hash = PasswordHash((_argon2(),))  # makes every hash; re-checks Argon2 ones
_bcrypt = BcryptHasher()  # checks migrated hashes only, never makes one
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_BCRYPT_MAX_BYTES = 72  # bcrypt never read further; the bcrypt package now refuses more

# A failed login lasts as long as a bcrypt check at this cost, the default of bcrypt,
# passlib and pwdlib (so of most hashes migrated in), with a margin for noise.
BCRYPT_BUDGETED_COST = 12
_BUDGET_MARGIN = 1.5
_PROBE_COST = 8  # measured at this cost, then scaled: each step doubles bcrypt's work

Password: TypeAlias = str | SecretStr  # what pwdlib and `crud.authenticate` accept too
Verdict: TypeAlias = tuple[bool, str | None]  # (password matches, replacement hash or None)


def hash_password(password: Password) -> str:
    """A salted Argon2id hash of `password`."""
    return _password_hash.hash(_as_bytes(password))


def verify_password(password: Password, password_hash: str) -> Verdict:
    """Whether `password` matches, and a replacement hash if the hash should change.

    A bcrypt hash is checked against the first 72 bytes, all it was made from
    (apps that hashed longer passwords cut them silently); the replacement is
    made from every byte, so from then on the whole password is checked. A
    bcrypt hash the library cannot read (cost outside 4-31) matches nothing.
    """
    secret = _as_bytes(password)
    if not password_hash.startswith(BCRYPT_PREFIXES):
        return _password_hash.verify_and_update(secret, password_hash)
    try:
        valid = _bcrypt.verify(secret[:_BCRYPT_MAX_BYTES], password_hash)
    except ValueError:  # "Invalid salt": a cost bcrypt refuses
        valid = False
    return valid, _password_hash.hash(secret) if valid else None


@cache
def _decoy_hash() -> str:
    return _password_hash.hash("decoy password that no account has")


def burn_verification_time(password: Password) -> None:
    """Spend what verifying an Argon2id hash costs, for an email no account has."""
    _password_hash.verify(_as_bytes(password), _decoy_hash())


def check_password(password: Password, password_hash: str | None) -> Verdict:
    """A login's check of `password_hash` (None: no such account); a failure lasts the budget."""
    verdict, deadline = _verdict_and_deadline(password, password_hash)
    time.sleep(max(0.0, deadline - time.monotonic()))
    return verdict


async def check_password_async(password: Password, password_hash: str | None) -> Verdict:
    """`check_password` with the hashing in a worker thread and the wait on the event loop,
    so a failed login holds no thread while it waits."""
    verdict, deadline = await asyncio.to_thread(_verdict_and_deadline, password, password_hash)
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    return verdict


def _verdict_and_deadline(password: Password, password_hash: str | None) -> tuple[Verdict, float]:
    """The verdict, and the `time.monotonic()` before which it may not be answered.

    The one place the timing rule lives: a failure, whichever hash (or decoy)
    it checked, is answered `failed_login_budget()` after its check began.
    """
    budget = failed_login_budget()  # measured before the clock starts, on first use
    started = time.monotonic()
    if password_hash is None:
        burn_verification_time(password)
        verdict: Verdict = (False, None)
    else:
        verdict = verify_password(password, password_hash)
    return verdict, started if verdict[0] else started + budget


def failed_login_budget() -> float:
    """Seconds a failed login lasts: the slowest check a login meets here, plus a margin.

    Measured by the first caller while the others wait for it: twenty first
    logins at once in a new process would otherwise each measure, sharing the
    CPU, and take seconds each.
    """
    with _BUDGET_LOCK:
        return _measured_budget()


@cache
def _measured_budget() -> float:
    """The budget, measured once per process.

    That is a bcrypt check at `BCRYPT_BUDGETED_COST`, or an Argon2id check if
    slower, measured once per process (~0.2 s) on this machine: bcrypt at a
    cost of 8, scaled up. What is measured is the CPU time of the checks, not
    the wall time, so a process started while the machine is busy does not
    keep an inflated budget for its life; the margin covers a check that runs
    slower than that, up to 1.5 times, because other work shares the CPU.
    """
    probe = bcrypt.hashpw(b"probe", bcrypt.gensalt(_PROBE_COST))
    bcrypt_check = _fastest(lambda: bcrypt.checkpw(b"not the probe", probe))
    argon2_check = _fastest(lambda: _argon2().verify(b"not the decoy", _decoy_hash()))
    scale = 2.0 ** (BCRYPT_BUDGETED_COST - _PROBE_COST)
    return _BUDGET_MARGIN * max(bcrypt_check * scale, argon2_check)


_BUDGET_LOCK = threading.Lock()


def _fastest(check: Callable[[], object], runs: int = 3) -> float:
    """The least CPU time `check` took in this thread (bcrypt and Argon2 with one lane run
    in the calling thread), over `runs` runs: the first one also pays for warming up."""
    times = []
    for _ in range(runs):
        started = time.thread_time()
        check()
        times.append(time.thread_time() - started)
    return min(times)


def _as_bytes(password: Password) -> bytes:
    """UTF-8, keeping a lone surrogate as bytes no registered password has: it matches nothing.

    Registration refuses such passwords, so checking one costs the same as any
    wrong password and answers no, instead of raising `UnicodeEncodeError`
    (whose `object` would carry the password).
    """
    if isinstance(password, SecretStr):
        password = password.get_secret_value()
    elif not isinstance(password, str):  # never the value: it may be a password in any form
        raise TypeError(f"password must be str or SecretStr, not {type(password).__name__}")
    return password.encode("utf-8", "surrogatepass")
