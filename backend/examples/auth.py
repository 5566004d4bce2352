"""The example service's tokens: JWTs it issues itself at `POST /login` (`src.api.tokens`).

The key is `EXAMPLE_TOKEN_SECRET` (at least 32 bytes for HS256), read when the
app is built and shared by every worker process, so a token issued by one
worker is accepted by the others. The tokens are HS256 JWTs naming the user
in `sub`, for this service's audience, valid for an hour. Every other
`JWT_*` setting (`JWT_LEEWAY_S`, ...) is read as `TokenSettings` reads it.

A service whose users log in at an external auth server (Better Auth and its
kind) issues nothing: it sets `JWT_JWKS_URL`, `JWT_ALGORITHMS` and
`JWT_AUDIENCE` and builds `TokenVerifier(TokenSettings())`.
"""

from __future__ import annotations

import os

from pydantic import SecretStr

from src.api import TokenConfigError, TokenSettings
from src.config.secret_keys import KEY_COMMAND

KEY_HINT = f"make one with: {KEY_COMMAND}"

TOKEN_SECRET_VARIABLE = "EXAMPLE_TOKEN_SECRET"
AUDIENCE = "todo-example"
ISSUER = "todo-example"


def token_settings(secret: str | None = None) -> TokenSettings:
    """The example's token settings: `secret`, else `EXAMPLE_TOKEN_SECRET`; refuses to start
    without one, or with one that does not look generated (`TokenSettings` holds the rules)."""
    secret = os.environ.get(TOKEN_SECRET_VARIABLE, "") if secret is None else secret
    if not secret.strip():
        raise TokenConfigError(
            TOKEN_SECRET_VARIABLE, f"must be set, the same for every worker; {KEY_HINT}"
        )
    try:
        return TokenSettings(secret=SecretStr(secret), audience=AUDIENCE, issuer=ISSUER)
    except TokenConfigError as exc:
        if exc.setting != "JWT_SECRET":
            raise
        raise TokenConfigError(TOKEN_SECRET_VARIABLE, exc.rule) from None
