"""Tokens a service mints itself, for the users it logs in: HS* JWTs a `TokenVerifier` accepts.

Only with a shared secret (`JWT_SECRET`): with `JWT_JWKS_URL` the auth server
holds the private keys and issues the tokens. A token carries `sub` (the user
id, as a decimal string, RFC 7519's StringOrURI), `aud`, `iss` when one is
configured, `iat` and `exp`: everything the verifier requires, signed with the
first of `JWT_ALGORITHMS` (HS256 by default).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from src.api.token_settings import TokenConfigError, TokenSettings
from src.crud.arguments import MAX_ID, refused

DEFAULT_TTL = timedelta(hours=1)


class TokenIssuer:
    """Mints the tokens a `TokenVerifier` of the same settings accepts (shared secret only)."""

    def __init__(self, settings: TokenSettings, ttl: timedelta = DEFAULT_TTL) -> None:
        if settings.secret is None:
            raise TokenConfigError(
                "JWT_SECRET",
                "issuing tokens needs the shared secret (with JWT_JWKS_URL the "
                "auth server issues them)",
            )
        self._settings = settings
        self._secret = settings.secret.get_secret_value().encode()
        self._algorithm = settings.accepted_algorithms[0]
        self._ttl = self._checked_ttl(ttl)

    def __repr__(self) -> str:
        return f"TokenIssuer({self._algorithm}, ttl={self._ttl})"

    def issue(
        self, user_id: int, ttl: timedelta | None = None, *, now: datetime | None = None
    ) -> str:
        """A token for `user_id` valid for `ttl` (the issuer's default) from `now` (the clock's).

        A bad `user_id` or `ttl` is the caller's bug: a `ValidationError` naming it, as
        the operations of `src.crud` raise.
        """
        if type(user_id) is not int or not 0 < user_id <= MAX_ID:
            raise refused("user_id", "user_id", "must be an int from 1 to 2^63-1")
        lifetime = self._ttl if ttl is None else self._checked_ttl(ttl)
        issued = datetime.now(UTC) if now is None else now
        claims: dict[str, object] = {
            "sub": str(user_id),
            "aud": self._settings.audience,
            "iat": int(issued.timestamp()),
            "exp": int((issued + lifetime).timestamp()),
        }
        if self._settings.issuer is not None:
            claims["iss"] = self._settings.issuer
        return jwt.encode(claims, self._secret, algorithm=self._algorithm)

    @staticmethod
    def _checked_ttl(ttl: timedelta) -> timedelta:
        if not isinstance(ttl, timedelta) or ttl.total_seconds() < 1:
            raise refused("ttl", "ttl", "must be a timedelta of at least one second")
        return ttl
