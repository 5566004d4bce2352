"""Bearer tokens for the example service: a user id and an expiry, signed with HMAC-SHA256.

`POST /login` checks the password (Argon2id, through `crud.authenticate`) and
answers with a token; every other request presents it as
`Authorization: Bearer <token>`, and `bearer_user_id` is the dependency the
service installs as its `CurrentUserId` (`src.api.use_user_id`).

The key is `EXAMPLE_TOKEN_SECRET` (at least 32 characters), read when the app
is built and shared by every worker process, so a token issued by one worker is
accepted by the others. Nothing in a token is trusted before its signature is
checked (in constant time), and an expired token is refused. A production
service would more likely issue JWTs with a library and rotate keys; the rules
a verifier must keep are these.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

TOKEN_SECRET_VARIABLE = "EXAMPLE_TOKEN_SECRET"
TOKEN_SECRET_MIN_LENGTH = 32
TOKEN_TTL_S = 3600


def token_secret() -> bytes:
    """The signing key from the environment; refuses to start without a strong one."""
    secret = os.environ.get(TOKEN_SECRET_VARIABLE, "")
    if len(secret) < TOKEN_SECRET_MIN_LENGTH:
        raise RuntimeError(
            f"{TOKEN_SECRET_VARIABLE} must be set to at least {TOKEN_SECRET_MIN_LENGTH} "
            "random characters (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return secret.encode()


class TokenSigner:
    """Issues and verifies tokens of the form `<user id>.<expiry>.<signature>`."""

    def __init__(self, secret: bytes, ttl_s: int = TOKEN_TTL_S) -> None:
        self._secret = secret
        self._ttl_s = ttl_s

    def issue(self, user_id: int, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self._ttl_s)
        claims = f"{user_id}.{expires}"
        return f"{claims}.{self._sign(claims)}"

    def verify(self, token: str, now: float | None = None) -> int | None:
        """The user id the token was issued to, or None if it is forged, altered or expired."""
        claims, _, signature = token.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(claims).encode()):
            return None
        user_id, _, expires = claims.partition(".")
        if not (user_id.isdecimal() and expires.isdecimal()):
            return None
        if int(expires) <= (time.time() if now is None else now):
            return None
        return int(user_id)

    def _sign(self, claims: str) -> str:
        return hmac.new(self._secret, claims.encode(), hashlib.sha256).hexdigest()


_bearer = HTTPBearer(auto_error=False)


def bearer_verifier(signer: TokenSigner) -> Callable[..., int]:
    """The dependency that answers `CurrentUserId` from the request's bearer token."""

    def bearer_user_id(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> int:
        user_id = None if credentials is None else signer.verify(credentials.credentials)
        if user_id is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a valid bearer token is required (POST /login)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return user_id

    return bearer_user_id
