"""JWT bearer tokens: the verifier that answers the caller's user id (`token_issuer.py` mints).

Built on PyJWT, as FastAPI's security tutorial is. `TokenVerifier(settings)`
is a FastAPI dependency returning the user id a valid token names; an
application declares

    verify_bearer = TokenVerifier(TokenSettings())
    CurrentUserId = Annotated[int, Depends(verified_user_id(verify_bearer))]

and tests stand in for a caller with `app.dependency_overrides[verify_bearer]`.

What a token must be (`token_settings.py` for the key and its rules):

- signed with the configured key by one of `JWT_ALGORITHMS`, whatever its
  header claims (`none` and algorithm confusion are refused there);
- `exp` present and not past, `nbf` and `iat` (if present) not in the future,
  each with `JWT_LEEWAY_S` of clock skew; `aud` naming `JWT_AUDIENCE`; `iss`
  equal to `JWT_ISSUER` when one is set;
- `sub` the user id: a decimal string of ASCII digits without leading zeros,
  or a JSON integer, from 1 to 2^63-1. Not "+7", "07", "7.0", an
  Arabic-Indic seven, 7.0 or true.

Every refusal is a 401 with `WWW-Authenticate: Bearer error="invalid_token"`
(RFC 6750, section 3.1), or a bare `Bearer` when the request carries no bearer
credentials; its message names the rule and never echoes the token. A JWKS
that cannot be fetched is a 503 with `Retry-After` (`jwks.py`).
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt import PyJWK
from jwt.types import Options
from starlette.concurrency import run_in_threadpool

from src.api.jwks import JwksKeys, SigningKeysUnavailableError
from src.api.token_issuer import DEFAULT_TTL, TokenIssuer
from src.api.token_settings import TokenConfigError, TokenSettings
from src.crud.arguments import MAX_ID
from src.errors import DataLayerError

logger = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 8192
"""Longer bearer values are refused unread (a JWT of a few claims is a few hundred characters)."""

bearer_scheme = HTTPBearer(
    auto_error=False, bearerFormat="JWT", description="A JWT naming the user in `sub`."
)
"""The `Authorization: Bearer` reader; it puts the bearer scheme into the OpenAPI schema."""

_DECIMAL_ID = re.compile(r"[1-9][0-9]{0,18}")
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "has expired (exp)"),
    (jwt.ImmatureSignatureError, "is not valid yet (nbf or iat is in the future)"),
    (jwt.InvalidAudienceError, "is not meant for this service (aud)"),
    (jwt.InvalidIssuerError, "was not issued by the expected issuer (iss)"),
    (jwt.InvalidAlgorithmError, "is signed with an algorithm this service does not accept (alg)"),
    (jwt.InvalidSignatureError, "has a signature that does not verify"),
    (jwt.InvalidKeyError, "is signed with a key too weak to trust"),
    (jwt.DecodeError, "is not a well-formed JWT"),
)


class InvalidBearerTokenError(DataLayerError):
    """A bearer token that proves nothing: 401. The message names the rule, never the token."""

    def __init__(self, rule: str) -> None:
        super().__init__(f"the bearer token {rule}")
        self.rule = rule


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"lacks the {error.claim} claim"  # one of the verifier's own required names
    return next((rule for kind, rule in _REASONS if isinstance(error, kind)), "is not valid")


def _user_id_of(subject: object) -> int | None:
    if type(subject) is str and _DECIMAL_ID.fullmatch(subject):
        subject = int(subject)
    if type(subject) is int and 0 < subject <= MAX_ID:
        return subject
    return None


class TokenVerifier:
    """The FastAPI dependency answering the user id of the request's bearer token."""

    def __init__(self, settings: TokenSettings) -> None:
        self._settings = settings
        self._algorithms = list(settings.accepted_algorithms)
        required = ["exp", "sub", "aud"] + (["iss"] if settings.issuer is not None else [])
        # PyJWT's own `sub` check accepts strings only; `_user_id_of` holds the rule.
        self._options: Options = {
            "require": required,
            "verify_sub": False,
            "enforce_minimum_key_length": True,
        }
        secret = settings.secret
        self._secret = None if secret is None else secret.get_secret_value().encode()
        self._jwks = None
        if settings.jwks_url is not None:
            self._jwks = JwksKeys(
                settings.jwks_url,
                settings.accepted_algorithms,
                timeout_s=settings.jwks_timeout_s,
                cache_s=settings.jwks_cache_s,
                refresh_cooldown_s=settings.jwks_refresh_cooldown_s,
                retry_after_s=settings.jwks_retry_after_s,
            )

    def __repr__(self) -> str:
        key = "JWT_SECRET" if self._jwks is None else "JWT_JWKS_URL"
        return f"TokenVerifier({key}, algorithms={self._algorithms})"

    async def __call__(
        self,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> int:
        if credentials is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a bearer token is required (Authorization: Bearer <JWT>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        token = credentials.credentials
        try:
            kid = self._checked_header(token)
            key = self._cached_key(kid)
            if key is None:  # a JWKS fetch may be due: off the event loop
                key = await run_in_threadpool(self._fetched_key, kid)
            return self._user_id(token, key)
        except InvalidBearerTokenError as exc:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                str(exc),
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        except SigningKeysUnavailableError as exc:
            logger.warning("bearer token not checked, answered 503: %s", exc)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the keys that sign bearer tokens cannot be fetched right now; retry the request",
                headers={"Retry-After": str(exc.retry_after_s)},
            ) from None

    def verify(self, token: str) -> int:
        """The user id `token` names; blocks while a JWKS is fetched (up to its timeout).

        Raises `InvalidBearerTokenError` or `SigningKeysUnavailableError`.
        """
        kid = self._checked_header(token)
        return self._user_id(token, self._cached_key(kid) or self._fetched_key(kid))

    def _checked_header(self, token: str) -> str:
        """The header's key id, once its algorithm is accepted; empty with a shared secret.

        A shared secret needs nothing from the header before PyJWT checks the
        token (algorithm included): reading it here too would parse it twice.
        """
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise InvalidBearerTokenError("is not a well-formed JWT")
        if self._jwks is None:
            return ""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidBearerTokenError(_reason(exc)) from None
        # Checked before any key is looked up, so no token can make the service fetch a JWKS
        # for an algorithm it would refuse anyway; PyJWT checks it again when verifying.
        if header.get("alg") not in self._algorithms:
            raise InvalidBearerTokenError(_reason(jwt.InvalidAlgorithmError()))
        kid = header.get("kid")
        if not kid:
            raise InvalidBearerTokenError("names no signing key (kid)")
        return str(kid)

    def _cached_key(self, kid: str) -> bytes | PyJWK | None:
        return self._secret if self._jwks is None else self._jwks.cached(kid)

    def _fetched_key(self, kid: str) -> PyJWK:
        assert self._jwks is not None  # a shared secret is never missing from the cache
        key = self._jwks.fetch(kid)
        if key is None:
            raise InvalidBearerTokenError("names a key (kid) the auth server does not publish")
        return key

    def _user_id(self, token: str, key: bytes | PyJWK) -> int:
        settings = self._settings
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_s,
                options=self._options,
            )
        except jwt.PyJWTError as exc:
            if isinstance(exc, jwt.InvalidKeyError):  # the auth server's problem: tell the log
                logger.warning("refused a bearer token signed with a key below PyJWT's minimum")
            raise InvalidBearerTokenError(_reason(exc)) from None
        user_id = _user_id_of(claims["sub"])
        if user_id is None:
            raise InvalidBearerTokenError(
                "names no user (sub): a user id is a decimal from 1 to 2^63-1"
            )
        return user_id


__all__ = [
    "DEFAULT_TTL",
    "MAX_TOKEN_LENGTH",
    "InvalidBearerTokenError",
    "SigningKeysUnavailableError",
    "TokenConfigError",
    "TokenIssuer",
    "TokenSettings",
    "TokenVerifier",
    "bearer_scheme",
]
