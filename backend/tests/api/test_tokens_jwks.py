"""Bearer JWTs signed by an external auth server, checked against its JWKS over real HTTP.

`JwksStandIn` (jwks_standin.py) stands for the auth server's
`/.well-known/jwks.json` (Better Auth serves it at `/api/auth/jwks`), modelled
on RFC 7517: a `{"keys": [...]}` set of public JWKs with `kid`, `alg` and
`use: "sig"`, served by `http.server` in a thread on 127.0.0.1. The
verifier fetches it with PyJWT's `PyJWKClient`; the stand-in counts the
fetches, so the tests prove what is fetched when, not how fast.

Through a small FastAPI app (`verified_user_id(TokenVerifier(...))`, the
package's error handlers), a token the service cannot check because the key
set cannot be had is a 503 with Retry-After, not a 401: the token may be
good, and a 401 would tell the client to throw it away.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from src.api import register_error_handlers, verified_user_id
from src.api.tokens import (
    InvalidBearerTokenError,
    SigningKeysUnavailableError,
    TokenSettings,
    TokenVerifier,
)
from tests.api.conftest import bearer, hand_signed
from tests.standins.jwks_standin import JwksStandIn, SigningKey, new_key

pytestmark = pytest.mark.usefixtures("no_jwt_environment")

AUDIENCE = "https://todo.example.com"
ISSUER = "https://auth.example.com"


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return new_key("RS256")


@pytest.fixture
def server(rsa_key: SigningKey) -> Iterator[JwksStandIn]:
    stand_in = JwksStandIn(rsa_key)
    yield stand_in
    stand_in.stop()


def verifier_for(server: JwksStandIn, *algorithms: str, **fields: Any) -> TokenVerifier:
    values: dict[str, Any] = {
        "jwks_url": server.url,
        "algorithms": algorithms or ("RS256",),
        "audience": AUDIENCE,
        "issuer": ISSUER,
        "jwks_refresh_cooldown_s": 0,
        "jwks_retry_after_s": 0,
        "jwks_timeout_s": 2,
    }
    values.update(fields)
    return TokenVerifier(TokenSettings(_env_file=None, **values))


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "42", "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 900, **changes}


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidBearerTokenError) as caught:
        verifier.verify(token)
    return caught.value.rule


def service_of(verifier: TokenVerifier) -> TestClient:
    """A one-route service that answers the caller's user id, as an application declares it."""
    app = FastAPI()
    register_error_handlers(app)
    current_user_id = Depends(verified_user_id(verifier))  # a local: no Annotated alias here

    @app.get("/me")
    async def me(user_id: int = current_user_id) -> dict[str, int]:
        return {"user_id": user_id}

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
def test_a_token_signed_by_a_published_key_names_its_user(alg: str) -> None:
    key = new_key(alg)
    stand_in = JwksStandIn(new_key("RS256"), key)
    try:
        verifier = verifier_for(stand_in, alg)
        assert verifier.verify(key.sign(claims())) == 42
        answer = service_of(verifier).get("/me", headers=bearer(key.sign(claims(sub=7))))
        assert (answer.status_code, answer.json()) == (200, {"user_id": 7})
        assert stand_in.requests == 1  # the second token was checked against the cached set
    finally:
        stand_in.stop()


def test_hs256_signed_with_the_public_key_pem_is_refused_without_a_fetch(
    server: JwksStandIn, rsa_key: SigningKey
) -> None:
    """Algorithm confusion: the public key, published to all, used as an HMAC secret."""
    verifier = verifier_for(server, "RS256")
    confused = hand_signed({"alg": "HS256", "kid": rsa_key.kid}, claims(), rsa_key.public_pem)
    assert refused(verifier, confused) == (
        "is signed with an algorithm this service does not accept (alg)"
    )
    unsigned = hand_signed({"alg": "none", "kid": rsa_key.kid}, claims(), None)
    assert refused(verifier, unsigned).endswith("(alg)")
    assert server.requests == 0  # refused on its header: no key was even looked up
    # The same HMAC under an RS256 header is just a signature that does not verify.
    relabelled = hand_signed({"alg": "RS256", "kid": rsa_key.kid}, claims(), rsa_key.public_pem)
    assert refused(verifier, relabelled) == "has a signature that does not verify"
    assert server.requests == 1


def test_a_token_signed_by_another_key_is_refused(server: JwksStandIn, rsa_key: SigningKey) -> None:
    verifier = verifier_for(server)
    impostor = new_key("RS256", kid=rsa_key.kid)  # claims the published key's kid
    assert refused(verifier, impostor.sign(claims())) == "has a signature that does not verify"
    stranger = new_key("RS256")
    assert refused(verifier, stranger.sign(claims())) == (
        "names a key (kid) the auth server does not publish"
    )


def test_a_token_naming_no_key_is_refused(server: JwksStandIn, rsa_key: SigningKey) -> None:
    verifier = verifier_for(server)
    unnamed = jwt.encode(claims(), rsa_key.private, algorithm="RS256")
    assert refused(verifier, unnamed) == "names no signing key (kid)"
    assert server.requests == 0


def test_a_published_key_of_an_algorithm_not_configured_cannot_sign_a_token(
    rsa_key: SigningKey,
) -> None:
    ec_key = new_key("ES256")
    stand_in = JwksStandIn(rsa_key, ec_key)
    try:
        verifier = verifier_for(stand_in, "ES256")
        assert verifier.verify(ec_key.sign(claims())) == 42
        assert refused(verifier, rsa_key.sign(claims())).endswith("(alg)")
        # An RS256 signature presented as ES256, under the EC key's kid, is checked as ES256.
        _, payload, signature = rsa_key.sign(claims()).split(".")
        header = hand_signed({"alg": "ES256", "kid": ec_key.kid}, {}, None).split(".")[0]
        mislabelled = f"{header}.{payload}.{signature}"
        assert refused(verifier, mislabelled) == "has a signature that does not verify"
    finally:
        stand_in.stop()


def test_claims_are_checked_as_with_a_shared_secret(
    server: JwksStandIn, rsa_key: SigningKey
) -> None:
    verifier = verifier_for(server)
    now = int(time.time())
    assert refused(verifier, rsa_key.sign(claims(exp=now - 60))) == "has expired (exp)"
    assert refused(verifier, rsa_key.sign(claims(aud="other"))).endswith("(aud)")
    assert refused(verifier, rsa_key.sign(claims(iss="other"))).endswith("(iss)")
    assert refused(verifier, rsa_key.sign(claims(sub="0"))).startswith("names no user (sub)")


def test_a_key_shorter_than_2048_bits_is_not_trusted() -> None:
    weak = new_key("RS256", rsa_bits=1024)
    stand_in = JwksStandIn(weak)
    try:
        with pytest.warns(jwt.InsecureKeyLengthWarning):  # PyJWT signs, with a warning
            token = weak.sign(claims())
        assert refused(verifier_for(stand_in), token) == "is signed with a key too weak to trust"
    finally:
        stand_in.stop()


def test_a_rotated_key_is_fetched_when_a_token_first_names_it(
    server: JwksStandIn, rsa_key: SigningKey
) -> None:
    verifier = verifier_for(server)
    assert verifier.verify(rsa_key.sign(claims())) == 42
    assert server.requests == 1
    rotated = new_key("RS256")
    server.keys = [rotated, rsa_key]  # the auth server starts signing with a new key
    assert verifier.verify(rotated.sign(claims(sub="43"))) == 43
    assert server.requests == 2  # the unknown kid caused exactly one refetch
    for _ in range(3):
        assert verifier.verify(rotated.sign(claims())) == verifier.verify(rsa_key.sign(claims()))
    assert server.requests == 2
    server.keys = [rotated]  # the old key is retired: its tokens stop verifying once refetched
    stale = verifier_for(server)
    assert refused(stale, rsa_key.sign(claims())).startswith("names a key (kid)")


def test_made_up_kids_cannot_make_every_request_a_fetch(
    server: JwksStandIn, rsa_key: SigningKey
) -> None:
    verifier = verifier_for(server, jwks_refresh_cooldown_s=30)
    assert verifier.verify(rsa_key.sign(claims())) == 42
    for n in range(20):
        made_up = hand_signed({"alg": "RS256", "kid": f"kid-{n}"}, claims(), b"x" * 32)
        assert refused(verifier, made_up).startswith("names a key (kid)")
    assert server.requests == 1  # within the cooldown, an unknown kid fetches nothing


def test_the_cached_set_keeps_verifying_while_the_auth_server_is_down(
    server: JwksStandIn, rsa_key: SigningKey
) -> None:
    verifier = verifier_for(server)
    assert verifier.verify(rsa_key.sign(claims())) == 42
    server.stop()
    answer = service_of(verifier).get("/me", headers=bearer(rsa_key.sign(claims())))
    assert (answer.status_code, answer.json()) == (200, {"user_id": 42})


@pytest.mark.parametrize("failure", ["down", "no usable key"])
def test_a_failed_refetch_for_an_unknown_kid_keeps_the_cached_set(
    server: JwksStandIn, rsa_key: SigningKey, failure: str
) -> None:
    verifier = verifier_for(server, jwks_retry_after_s=30)
    assert verifier.verify(rsa_key.sign(claims())) == 42
    if failure == "down":
        server.stop()
    else:
        server.answer = lambda: (200, "application/json", b'{"keys": [{"kty": "oct"}]}')
    with pytest.raises(SigningKeysUnavailableError):  # maybe a key rotated in: not a 401
        verifier.verify(new_key("RS256").sign(claims()))
    assert verifier.verify(rsa_key.sign(claims())) == 42  # the known key still verifies


def test_an_auth_server_that_is_down_is_a_503_with_retry_after_not_a_401(
    server: JwksStandIn, rsa_key: SigningKey
) -> None:
    server.stop()
    client = service_of(verifier_for(server, jwks_retry_after_s=3))
    answer = client.get("/me", headers=bearer(rsa_key.sign(claims())))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "3"
    assert "WWW-Authenticate" not in answer.headers
    assert answer.json() == {
        "detail": "the keys that sign bearer tokens cannot be fetched right now; retry the request"
    }


@pytest.mark.parametrize(
    ("status", "kind", "body"),
    [
        (500, "application/json", b'{"error": "internal"}'),
        (404, "text/html", b"<html>not here</html>"),
        (200, "text/html", b"<html>login page</html>"),
        (200, "application/json", b"[]"),
        (200, "application/json", b'{"keys": []}'),
        (200, "application/json", b'{"keys": "RS256"}'),
        (200, "application/json", b'{"keys": [{"kty": "RSA", "alg": ["RS256"]}]}'),
        (200, "application/json", b"[" * 100000),
    ],
    ids=["500", "404", "html", "list", "no-keys", "keys-string", "junk-key", "deep"],
)
def test_an_answer_that_is_no_key_set_is_a_503(
    server: JwksStandIn, rsa_key: SigningKey, status: int, kind: str, body: bytes
) -> None:
    server.answer = lambda: (status, kind, body)
    answer = service_of(verifier_for(server)).get("/me", headers=bearer(rsa_key.sign(claims())))
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "1")


def test_a_set_without_a_usable_key_for_the_configured_algorithms_is_a_503(
    server: JwksStandIn, rsa_key: SigningKey
) -> None:
    without_kid = {name: value for name, value in rsa_key.jwk.items() if name != "kid"}
    for keys in ([without_kid], [{**rsa_key.jwk, "use": "enc"}], [new_key("EdDSA").jwk]):
        body = json.dumps({"keys": keys}).encode()
        server.answer = lambda body=body: (200, "application/json", body)
        with pytest.raises(SigningKeysUnavailableError, match="holds no signing key with a kid"):
            verifier_for(server).verify(rsa_key.sign(claims()))


def test_a_stalled_auth_server_is_a_503_after_the_timeout_not_a_hang(
    server: JwksStandIn, rsa_key: SigningKey
) -> None:
    server.stalled = True  # accepts the connection, never answers (until 15 s have passed)
    client = service_of(verifier_for(server, jwks_timeout_s=0.5))
    started = time.monotonic()
    answer = client.get("/me", headers=bearer(rsa_key.sign(claims())))
    waited = time.monotonic() - started
    assert answer.status_code == 503
    assert waited < 10  # the 0.5 s timeout, with room for a slow machine; never the 15 s stall


def test_after_a_failed_fetch_requests_are_answered_at_once_until_retry_after(
    server: JwksStandIn, rsa_key: SigningKey
) -> None:
    server.answer = lambda: (502, "text/plain", b"bad gateway")
    client = service_of(verifier_for(server, jwks_retry_after_s=0.5))
    token = rsa_key.sign(claims())
    assert client.get("/me", headers=bearer(token)).status_code == 503
    assert server.requests == 1
    for _ in range(10):  # within the back-off: no fetch, each answered 503 at once
        assert client.get("/me", headers=bearer(token)).status_code == 503
    assert server.requests <= 2  # at most one retry if the machine was slow past 0.5 s
    server.answer = None  # the auth server is back
    time.sleep(0.6)
    assert client.get("/me", headers=bearer(token)).json() == {"user_id": 42}
