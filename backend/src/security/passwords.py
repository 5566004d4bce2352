"""Argon2id password hashing with OWASP's parameters (see research.md).

`verify_password` also reports when a stored hash was made with other
parameters, or is a bcrypt hash migrated in from another application
(`$2a$`, `$2b$`, `$2y$`), so the caller can store a fresh Argon2id hash after
a successful login.
"""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from pydantic import SecretStr

# OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB of memory, 2 iterations, 1 lane.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1

_password_hash = PasswordHash(
    (
        Argon2Hasher(
            time_cost=ARGON2_TIME_COST,
            memory_cost=ARGON2_MEMORY_KIB,
            parallelism=ARGON2_PARALLELISM,
        ),
        BcryptHasher(),  # verifies migrated hashes only; new ones are always Argon2id
    )
)
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_BCRYPT_MAX_BYTES = 72  # bcrypt never read further; the bcrypt package now refuses more


def hash_password(password: SecretStr) -> str:
    """A salted Argon2id hash of `password`."""
    return _password_hash.hash(password.get_secret_value())


def verify_password(password: SecretStr, password_hash: str) -> tuple[bool, str | None]:
    """Whether `password` matches, and a replacement hash if the parameters changed."""
    secret = _as_bytes(password)
    if password_hash.startswith(BCRYPT_PREFIXES):
        secret = secret[:_BCRYPT_MAX_BYTES]  # what the hash was made from
    return _password_hash.verify_and_update(secret, password_hash)


@cache
def _decoy_hash() -> str:
    return _password_hash.hash("decoy password that no account has")


def burn_verification_time(password: SecretStr) -> None:
    """Spend what a real verification costs, so an unknown email answers no faster."""
    _password_hash.verify(_as_bytes(password), _decoy_hash())


def _as_bytes(password: SecretStr) -> bytes:
    """UTF-8, keeping a lone surrogate as bytes no registered password has: it matches nothing.

    Registration refuses such passwords, so checking one costs the same as any
    wrong password and answers no instead of raising `UnicodeEncodeError`.
    """
    return password.get_secret_value().encode("utf-8", "surrogatepass")
