"""How bearer tokens are checked: one key, pinned algorithms, audience; read from `JWT_*`.

Exactly one kind of key:

- `JWT_SECRET`, a shared secret for HS256/HS384/HS512: the service (or a
  sibling) mints its own tokens (`TokenIssuer`). At least as many bytes as
  the hash's output (RFC 7518, section 3.2): 32 for HS256, 64 for HS512.
- `JWT_JWKS_URL`, where an external auth server publishes its public keys
  (RFC 7517; Better Auth's `/api/auth/jwks`): RS*, PS*, ES* or EdDSA.

The accepted algorithms are configuration (`JWT_ALGORITHMS`), never read from
a token: `none` is refused, and so is a shared-secret algorithm next to a
JWKS, since a verifier that accepts HS256 while it holds public keys can be
handed a token "signed" with the public key as the HMAC secret (algorithm
confusion, RFC 8725 section 2.1). These settings live apart from the data
layer's (`src.config.settings`): only a service that uses `src.api.tokens`
needs them.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any
from urllib.parse import urlsplit

from jwt.algorithms import HMACAlgorithm
from jwt.exceptions import InvalidKeyError
from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from src.config.secret_keys import secret_key_problem
from src.config.sources import PastedSettings
from src.errors import DataLayerError

HMAC_MIN_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_ASYMMETRIC_NAMES = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
_SECRET_HINT = "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(64))'"


class TokenConfigError(DataLayerError):
    """A `JWT_*` setting breaks a rule; the message names the setting and rule, never a secret."""

    def __init__(self, setting: str, rule: str) -> None:
        super().__init__(f"{setting}: {rule}")
        self.setting = setting
        self.rule = rule


def _names(value: Any) -> Any:
    """`JWT_ALGORITHMS` as written in an environment: comma-separated names."""
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenSettings(PastedSettings):
    """The verifier's key and rules; the fields' aliases are the environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="latin-1",  # the real read is DotEnvFileSource's (src.config.sources)
        extra="ignore",
        hide_input_in_errors=True,
        frozen=True,
        populate_by_name=True,
    )

    secret: SecretStr | None = Field(default=None, alias="JWT_SECRET")
    jwks_url: str | None = Field(default=None, alias="JWT_JWKS_URL")
    # Empty: HS256 with JWT_SECRET; with JWT_JWKS_URL the auth server's algorithms must be named.
    algorithms: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_names)] = Field(
        default=(), alias="JWT_ALGORITHMS"
    )
    audience: str = Field(alias="JWT_AUDIENCE", min_length=1, max_length=512)
    issuer: str | None = Field(default=None, alias="JWT_ISSUER", min_length=1, max_length=512)
    # Clock skew tolerated on exp, nbf and iat between the issuer's clock and ours.
    leeway_s: float = Field(default=10.0, alias="JWT_LEEWAY_S", ge=0, le=300)
    # Each JWKS fetch gives up after this long without an answer; the request gets a 503.
    jwks_timeout_s: float = Field(default=5.0, alias="JWT_JWKS_TIMEOUT_S", gt=0, le=60)
    jwks_cache_s: float = Field(default=300.0, alias="JWT_JWKS_CACHE_S", gt=0, le=86400)
    # A token naming an unknown key (`kid`) refetches the set at most this often (rotation).
    jwks_refresh_cooldown_s: float = Field(
        default=30.0, alias="JWT_JWKS_REFRESH_COOLDOWN_S", ge=0, le=3600
    )
    # After a failed fetch, requests that need one get a 503 at once for this long.
    jwks_retry_after_s: float = Field(default=5.0, alias="JWT_JWKS_RETRY_AFTER_S", ge=0, le=300)

    @field_validator("jwks_url")
    @classmethod
    def _fetchable_safely(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise TokenConfigError("JWT_JWKS_URL", "must be an https:// URL with a host")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise TokenConfigError(
                "JWT_JWKS_URL",
                "must be https:// (plain http only on loopback): whoever can alter the "
                "answer can add a key and sign any token",
            )
        return parts.geturl()

    @model_validator(mode="after")
    def _one_key_and_its_algorithms(self) -> TokenSettings:
        if (self.secret is None) == (self.jwks_url is None):
            raise TokenConfigError(
                "JWT_SECRET / JWT_JWKS_URL",
                "set exactly one: a shared secret, or the auth server's JWKS URL",
            )
        if "none" in (name.lower() for name in self.algorithms):
            raise TokenConfigError("JWT_ALGORITHMS", "'none' would accept unsigned tokens")
        if self.secret is not None:
            self._check_secret(self.secret.get_secret_value())
        elif not self.algorithms:
            raise TokenConfigError(
                "JWT_ALGORITHMS",
                "is required with JWT_JWKS_URL: the algorithms the auth server signs with, "
                "e.g. EdDSA (Better Auth's default) or RS256",
            )
        else:
            for name in self.algorithms:
                if name not in ASYMMETRIC_ALGORITHMS:
                    raise TokenConfigError(
                        "JWT_ALGORITHMS",
                        f"{name!r} is not a public-key algorithm ({_ASYMMETRIC_NAMES}); a "
                        "shared-secret algorithm next to a JWKS allows algorithm confusion",
                    )
        return self

    def _check_secret(self, secret: str) -> None:
        for name in self.accepted_algorithms:
            if name not in HMAC_MIN_SECRET_BYTES:
                raise TokenConfigError(
                    "JWT_ALGORITHMS",
                    f"{name!r} is not a shared-secret algorithm (HS256, HS384, HS512); "
                    "public-key algorithms take the auth server's keys from JWT_JWKS_URL",
                )
            if len(secret.encode()) < HMAC_MIN_SECRET_BYTES[name]:
                raise TokenConfigError(
                    "JWT_SECRET",
                    f"must be at least {HMAC_MIN_SECRET_BYTES[name]} bytes for {name} "
                    f"(RFC 7518, section 3.2); {_SECRET_HINT}",
                )
        try:  # PyJWT's own refusal of a PEM key, certificate or JWK used as an HMAC secret
            HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret)
        except InvalidKeyError:
            raise TokenConfigError(
                "JWT_SECRET", f"looks like a public key or JWK, not a random secret; {_SECRET_HINT}"
            ) from None
        # Length is the per-algorithm byte minimum above; the rest is every key's one rule.
        if problem := secret_key_problem(secret, min_length=0):
            raise TokenConfigError("JWT_SECRET", problem)

    @property
    def accepted_algorithms(self) -> tuple[str, ...]:
        """`JWT_ALGORITHMS`, or HS256 for a shared secret left without one."""
        if not self.algorithms and self.secret is not None:
            return ("HS256",)
        return self.algorithms
