"""A local stand-in of an auth server's JWKS endpoint, served over real HTTP.

It stands for `/.well-known/jwks.json` (Better Auth: `/api/auth/jwks`): a
JSON Web Key Set as RFC 7517, section 5 shapes it, `{"keys": [JWK, ...]}`,
each public key with `kty`, `kid`, `alg` and `use: "sig"`. The keys are made
here with `cryptography` and published with PyJWT's `to_jwk`, so a token
signed with `key.private` verifies against what the endpoint serves. The
stand-in counts the requests it receives, and can be told to rotate keys,
to answer badly (`answer`), to stall without answering, or to go away.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

PATH = "/.well-known/jwks.json"
STALL_LIMIT_S = 15.0  # a stalled answer is released after this long, or when the stand-in stops


@dataclass(frozen=True)
class SigningKey:
    """A key pair as an auth server holds it: the private half signs, the JWK is published."""

    kid: str
    alg: str
    private: Any
    jwk: dict[str, Any]

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.alg, headers={"kid": self.kid, **header}
        )

    @property
    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def new_key(alg: str = "RS256", *, kid: str | None = None, rsa_bits: int = 2048) -> SigningKey:
    """A fresh key pair for `alg` (RS*/PS*, ES256, EdDSA) and its public JWK."""
    private: Any
    if alg.startswith(("RS", "PS")):
        private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        public = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        public = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        public = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        raise ValueError(f"no key maker for {alg}")
    kid = kid or uuid.uuid4().hex[:12]
    return SigningKey(kid, alg, private, {**public, "kid": kid, "alg": alg, "use": "sig"})


Answer = Callable[[], tuple[int, str, bytes]]  # status, content type, body


class JwksStandIn:
    """Serves `{"keys": [...]}` of `self.keys` at `self.url` until stopped."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys: list[SigningKey] = list(keys)
        self.answer: Answer | None = None  # set to answer otherwise than with the key set
        self.stalled = False  # hold each request without answering (until released or stopped)
        self.requests = 0
        self._release = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                stand_in.handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def key_set(self) -> dict[str, Any]:
        return {"keys": [key.jwk for key in self.keys]}

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        if self.stalled:
            self._release.wait(STALL_LIMIT_S)
            return  # the connection closes without an answer
        if request.path != PATH:
            status, kind, body = 404, "text/plain", b"not found"
        elif self.answer is not None:
            status, kind, body = self.answer()
        else:
            status, kind, body = 200, "application/json", json.dumps(self.key_set()).encode()
        request.send_response(status)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def stop(self) -> None:
        """Close the port: from now on a fetch is refused at once."""
        if self._release.is_set():
            return
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
