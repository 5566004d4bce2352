"""An auth server's public signing keys, fetched from its JWKS URL (RFC 7517) and cached.

PyJWT's `PyJWKClient` does the fetching (with a timeout, no redirects) and the
caching: the whole set for `JWT_JWKS_CACHE_S`, and one forced refetch for a
token naming a key the set lacks (a rotation), at most every
`JWT_JWKS_REFRESH_COOLDOWN_S`, so tokens with made-up `kid`s cannot turn
every request into a fetch. Added here:

- A failed fetch (no answer within the timeout, an error status, not JSON,
  no signing key for the configured algorithms) is `SigningKeysUnavailableError`,
  answered with 503 + Retry-After: the token may be perfectly good, the
  service just cannot check it now, and a 401 would tell the client to throw
  it away. For `JWT_JWKS_RETRY_AFTER_S` after a failure no fetch is tried:
  those requests are answered at once instead of each waiting out the timeout
  in turn behind the client's lock (a stalled auth server would otherwise
  stall every request).
- `cached()` finds a key in the cached set without a lock or any I/O, so the
  common request verifies on the event loop; only a miss goes to `fetch()`,
  which blocks and belongs in a worker thread.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, NoReturn
from urllib.parse import urlsplit

from jwt import PyJWK, PyJWKClient, PyJWKSet
from jwt.exceptions import PyJWKClientError

from src.errors import DataLayerError

logger = logging.getLogger(__name__)

_SIGNING_USES = ("sig", None)


class SigningKeysUnavailableError(DataLayerError):
    """The JWKS could not be fetched or holds no usable key: 503, the reason goes to the log."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


def _signing_key(keys: PyJWKSet, kid: str) -> PyJWK | None:
    for key in keys.keys:
        if key.key_id == kid and key.public_key_use in _SIGNING_USES:
            return key
    return None


class _Client(PyJWKClient):
    """`PyJWKClient` whose fetch fails fast after a failure and checks what it received."""

    def __init__(
        self, url: str, algorithms: tuple[str, ...], retry_after_s: float, **kw: Any
    ) -> None:
        super().__init__(url, **kw)
        self._algorithms = algorithms
        self._retry_after_s = retry_after_s
        self._failed_at: float | None = None
        parts = urlsplit(url)
        self._where = f"{parts.scheme}://{parts.netloc}{parts.path}"  # no query in the log

    def fetch_data(self) -> Any:
        # Called with the client's lock held: one fetch at a time.
        if self._failed_at is not None:
            wait = self._failed_at + self._retry_after_s - time.monotonic()
            if wait > 0:
                raise SigningKeysUnavailableError(
                    f"the JWKS at {self._where} failed moments ago; next try in {wait:.1f} s", wait
                )
        cache = self.jwk_set_cache
        kept = None if cache is None else cache.jwk_set_with_timestamp
        try:
            data = super().fetch_data()  # caches what it parsed, and only that
            usable = [
                key
                for key in PyJWKSet.from_dict(data).keys
                if key.key_id and key.public_key_use in _SIGNING_USES
                if key.algorithm_name in self._algorithms
            ]
        except Exception as exc:  # whatever the remote end answered, there are no keys now
            self._failed(f"could not be fetched ({type(exc).__name__}: {exc})")
        if not usable:
            if cache is not None:  # a refetch for an unknown kid keeps the set it had
                cache.jwk_set_with_timestamp = kept
            self._failed(f"holds no signing key with a kid for {', '.join(self._algorithms)}")
        self._failed_at = None
        return data

    def _failed(self, reason: str) -> NoReturn:
        self._failed_at = time.monotonic()
        raise SigningKeysUnavailableError(
            f"the JWKS at {self._where} {reason}", self._retry_after_s
        ) from None


class JwksKeys:
    """The signing keys at a JWKS URL, by `kid`."""

    def __init__(
        self,
        url: str,
        algorithms: tuple[str, ...],
        *,
        timeout_s: float,
        cache_s: float,
        refresh_cooldown_s: float,
        retry_after_s: float,
    ) -> None:
        self._client = _Client(
            url,
            algorithms,
            retry_after_s,
            cache_jwk_set=True,
            lifespan=cache_s,
            timeout=timeout_s,
            cooldown_duration=refresh_cooldown_s,
            # urllib's default agent is turned away by some CDNs in front of auth servers.
            headers={"User-Agent": "todo-data-layer (PyJWT)", "Accept": "application/json"},
        )

    def cached(self, kid: str) -> PyJWK | None:
        """The key from the cached, unexpired set, if it holds `kid`; no lock, no I/O."""
        cache = self._client.jwk_set_cache
        entry = None if cache is None else cache.jwk_set_with_timestamp
        if (
            cache is None
            or entry is None
            or time.monotonic() > entry.get_timestamp() + cache.lifespan
        ):
            return None
        keys = entry.get_jwk_set()  # parsed since PyJWT 2.15; a raw payload goes to fetch()
        return _signing_key(keys, kid) if isinstance(keys, PyJWKSet) else None

    def fetch(self, kid: str) -> PyJWK | None:
        """The key for `kid`, fetching the set if needed; None if the auth server lacks it.

        Blocks for up to the timeout; raises `SigningKeysUnavailableError`.
        """
        try:
            return self._client.get_signing_key(kid)
        except PyJWKClientError:  # not in the set, even after the refetch the cooldown allowed
            return None
