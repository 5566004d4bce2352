"""Bearer JWTs with a shared secret: what `TokenSettings` allows, what `TokenVerifier` accepts.

The verifier is checked directly (`verify`), then through the example service
(blocking and asyncio, on SQLite and PostgreSQL), where every todo route must
answer every bad token with 401 and `WWW-Authenticate`, never a 500. The JWKS
case, against an auth server's key set over HTTP, is `test_tokens_jwks.py`.
"""

from __future__ import annotations

import time
from datetime import timedelta
from types import ModuleType
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from examples.auth import AUDIENCE, ISSUER
from src.api.tokens import (
    MAX_TOKEN_LENGTH,
    InvalidBearerTokenError,
    TokenConfigError,
    TokenIssuer,
    TokenSettings,
    TokenVerifier,
)
from src.crud.arguments import MAX_ID
from src.errors import SettingsError
from tests.api.conftest import PASSWORD, TOKEN_SECRET, bearer, hand_signed, login, register
from tests.standins.jwks_standin import new_key

pytestmark = pytest.mark.usefixtures("no_jwt_environment")

SECRET = "HnKNU4Gon5T3AsSVC-tNl-miSvWfId5OXbjUhKej5JV9x6ew1ldH8V8RHIpmj0mI"  # 64 bytes
OTHER_SECRET = "xyRKIaCnXEl-QYIv6633xWCI-_hk-WnnFR2waodvw3dxoF59DDMjT6x4BNTpEYBo"
LEEWAY_S = 10
DROP = object()  # a claim to leave out


def settings(**fields: Any) -> TokenSettings:
    values: dict[str, Any] = {"secret": SecretStr(SECRET), "audience": AUDIENCE, "issuer": ISSUER}
    values.update(fields)
    return TokenSettings(_env_file=None, leeway_s=LEEWAY_S, **values)


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    values = {"sub": "7", "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 600, **changes}
    return {name: value for name, value in values.items() if value is not DROP}


def token(secret: str = SECRET, algorithm: str = "HS256", /, **changes: object) -> str:
    return jwt.encode(claims(**changes), secret, algorithm=algorithm)


def refusal(verifier: TokenVerifier, bad: str) -> str:
    """The rule `verify` names for `bad`; the message never carries the token or its parts."""
    with pytest.raises(InvalidBearerTokenError) as caught:
        verifier.verify(bad)
    message = str(caught.value)
    for part in (bad, *bad.split(".")):
        assert len(part) < 8 or part not in message
    return caught.value.rule


# --- settings --------------------------------------------------------------------------


def test_settings_need_exactly_one_key_a_shared_secret_or_a_jwks_url() -> None:
    with pytest.raises(TokenConfigError, match="set exactly one"):
        TokenSettings(_env_file=None, audience="todo")
    with pytest.raises(TokenConfigError, match="set exactly one"):
        settings(jwks_url="https://auth.example.com/jwks", algorithms=("RS256",))


@pytest.mark.parametrize("name", ["none", "None", "NONE"])
@pytest.mark.parametrize("key", ["secret", "jwks"])
def test_none_is_never_an_accepted_algorithm(name: str, key: str) -> None:
    extra = {} if key == "secret" else {"secret": None, "jwks_url": "https://auth.example.com/j"}
    with pytest.raises(TokenConfigError, match="'none' would accept unsigned tokens"):
        settings(algorithms=("RS256", name) if key == "jwks" else (name,), **extra)


@pytest.mark.parametrize("name", ["HS256", "HS384", "HS512"])
def test_a_shared_secret_algorithm_next_to_a_jwks_is_refused_as_algorithm_confusion(
    name: str,
) -> None:
    with pytest.raises(TokenConfigError, match="algorithm confusion") as caught:
        settings(secret=None, jwks_url="https://auth.example.com/jwks", algorithms=("RS256", name))
    assert caught.value.setting == "JWT_ALGORITHMS"


@pytest.mark.parametrize("name", ["RS256", "EdDSA", "ES256", "hs256", "HS1024"])
def test_a_shared_secret_takes_shared_secret_algorithms_only(name: str) -> None:
    with pytest.raises(TokenConfigError, match="is not a shared-secret algorithm"):
        settings(algorithms=(name,))


def test_a_jwks_verifier_must_name_the_algorithms_of_its_auth_server() -> None:
    with pytest.raises(TokenConfigError, match="JWT_ALGORITHMS: is required with JWT_JWKS_URL"):
        settings(secret=None, jwks_url="https://auth.example.com/jwks")


@pytest.mark.parametrize(
    ("algorithms", "secret"),
    [
        (("HS256",), SECRET[:31]),
        (("HS256",), "àéîõüçñßøåæðþłž" + "x"),  # 31 bytes in 16 characters: bytes count
        (("HS256", "HS384"), SECRET[:47]),
        (("HS512",), SECRET[:63]),
    ],
)
def test_a_secret_shorter_than_its_hash_output_is_refused_without_showing_it(
    algorithms: tuple[str, ...], secret: str
) -> None:
    with pytest.raises(TokenConfigError, match=r"JWT_SECRET: must be at least \d\d bytes") as e:
        settings(secret=SecretStr(secret), algorithms=algorithms)
    assert secret not in str(e.value)
    assert settings(secret=SecretStr(secret + "Q"), algorithms=algorithms)  # one byte more will do


def test_a_public_key_pem_as_the_secret_is_refused() -> None:
    pem = new_key("RS256").public_pem.decode()
    with pytest.raises(TokenConfigError, match="looks like a public key or JWK"):
        settings(secret=SecretStr(pem))


@pytest.mark.parametrize(
    "url",
    [
        "http://auth.example.com/jwks",
        "http://10.0.0.5/jwks",
        "ftp://auth.example.com/jwks",
        "file:///etc/jwks.json",
        "https:///jwks",
        "auth.example.com/jwks",
    ],
)
def test_a_jwks_url_is_https_or_plain_http_on_loopback_only(url: str) -> None:
    with pytest.raises(TokenConfigError, match="JWT_JWKS_URL: must be"):
        settings(secret=None, jwks_url=url, algorithms=("RS256",))
    for fine in ("https://auth.example.com/jwks", "http://127.0.0.1:3000/j", "http://[::1]/j"):
        assert settings(secret=None, jwks_url=fine, algorithms=("RS256",)).jwks_url == fine


def test_settings_are_read_from_the_jwt_variables_blank_counting_as_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("JWT_ALGORITHMS", " HS256 , HS512 ")
    monkeypatch.setenv("JWT_AUDIENCE", "todo-api")
    monkeypatch.setenv("JWT_ISSUER", "   ")
    monkeypatch.setenv("JWT_LEEWAY_S", "2.5")
    read = TokenSettings(_env_file=None)
    assert (read.accepted_algorithms, read.audience, read.issuer, read.leeway_s) == (
        ("HS256", "HS512"),
        "todo-api",
        None,
        2.5,
    )
    monkeypatch.delenv("JWT_AUDIENCE")
    with pytest.raises(SettingsError, match="JWT_AUDIENCE"):
        TokenSettings(_env_file=None)


def test_no_repr_shows_the_secret() -> None:
    read = settings()
    for shown in (repr(read), str(read), repr(TokenVerifier(read)), repr(TokenIssuer(read))):
        assert SECRET not in shown


# --- the verifier, shared secret ---------------------------------------------------------


def test_a_token_the_issuer_minted_names_its_user_with_every_claim_set() -> None:
    read = settings()
    minted = TokenIssuer(read).issue(MAX_ID)
    assert TokenVerifier(read).verify(minted) == MAX_ID
    payload = jwt.decode(minted, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert payload["sub"] == str(MAX_ID)
    assert (payload["aud"], payload["iss"]) == (AUDIENCE, ISSUER)
    assert payload["exp"] - payload["iat"] == 3600
    assert abs(payload["iat"] - time.time()) < 60


def test_a_token_with_a_forged_signature_or_an_altered_payload_is_refused() -> None:
    verifier = TokenVerifier(settings())
    header, payload, signature = token().split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    altered = token(sub="8").split(".")[1]
    assert (
        refusal(verifier, f"{header}.{payload}.{flipped}") == "has a signature that does not verify"
    )
    assert (
        refusal(verifier, f"{header}.{altered}.{signature}")
        == "has a signature that does not verify"
    )
    assert refusal(verifier, f"{header}.{payload}.") == "has a signature that does not verify"


def test_a_token_signed_with_another_secret_is_refused() -> None:
    verifier = TokenVerifier(settings())
    assert refusal(verifier, token(OTHER_SECRET)) == "has a signature that does not verify"


def test_an_expired_token_is_refused_once_past_the_leeway() -> None:
    verifier = TokenVerifier(settings())
    now = int(time.time())
    assert refusal(verifier, token(exp=now - LEEWAY_S - 5)) == "has expired (exp)"
    assert verifier.verify(token(exp=now - LEEWAY_S // 2)) == 7  # within the clock skew


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_not_valid_yet_is_refused_once_past_the_leeway(claim: str) -> None:
    verifier = TokenVerifier(settings())
    now = int(time.time())
    later = {claim: now + LEEWAY_S + 60}
    assert refusal(verifier, token(**later)) == "is not valid yet (nbf or iat is in the future)"
    assert verifier.verify(token(**{claim: now + LEEWAY_S // 2})) == 7


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"aud": "another-service"}, "is not meant for this service (aud)"),
        ({"aud": ["another-service", "a-third"]}, "is not meant for this service (aud)"),
        ({"aud": {"todo-example": True}}, "is not meant for this service (aud)"),
        ({"aud": DROP}, "lacks the aud claim"),
        ({"iss": "someone-else"}, "was not issued by the expected issuer (iss)"),
        ({"iss": DROP}, "lacks the iss claim"),
        ({"exp": DROP}, "lacks the exp claim"),
        ({"exp": None}, "lacks the exp claim"),
        ({"exp": "soon"}, "is not a well-formed JWT"),
        ({"sub": DROP}, "lacks the sub claim"),
    ],
)
def test_a_token_for_another_audience_or_issuer_or_without_exp_or_sub_is_refused(
    changes: dict[str, object], rule: str
) -> None:
    assert refusal(TokenVerifier(settings()), token(**changes)) == rule


def test_an_audience_list_naming_this_service_is_accepted() -> None:
    assert TokenVerifier(settings()).verify(token(aud=["another", AUDIENCE])) == 7


@pytest.mark.parametrize(
    "subject",
    [0, -1, 2**63, "abc", 1.5, True, False, 7.0, "0", "-1", "+7", "07", " 7", "7 ", "7\n",
     "7.0", "1e3", "\u0667", "\uff19", "9223372036854775808", "1" * 4000, [7], {"id": 7}, ""],
    ids=repr,
)  # fmt: skip
def test_a_subject_that_is_not_a_user_id_is_refused(subject: object) -> None:
    rule = refusal(TokenVerifier(settings()), token(sub=subject))
    assert rule == "names no user (sub): a user id is a decimal from 1 to 2^63-1"


@pytest.mark.parametrize(("subject", "user_id"), [("7", 7), (7, 7), (str(MAX_ID), MAX_ID)])
def test_a_subject_that_is_a_decimal_string_or_an_integer_names_the_user(
    subject: object, user_id: int
) -> None:
    assert TokenVerifier(settings()).verify(token(sub=subject)) == user_id


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_an_unsigned_token_is_refused_whatever_its_header_calls_it(alg: str) -> None:
    verifier = TokenVerifier(settings())
    unsigned = hand_signed({"alg": alg, "typ": "JWT"}, claims(), None)
    rule = "is signed with an algorithm this service does not accept (alg)"
    assert refusal(verifier, unsigned) == rule
    assert refusal(verifier, hand_signed({"typ": "JWT"}, claims(), None)) == rule  # no alg


def test_a_token_signed_with_an_algorithm_not_configured_is_refused() -> None:
    verifier = TokenVerifier(settings(algorithms=("HS256",)))
    rule = "is signed with an algorithm this service does not accept (alg)"
    assert refusal(verifier, token(SECRET, "HS512")) == rule
    both = TokenVerifier(settings(algorithms=("HS256", "HS512")))
    assert both.verify(token(SECRET, "HS512")) == both.verify(token()) == 7


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-a-token",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "eyJhbGciOiJIUzI1NiJ9.e30",
        "!!!!.e30.e30",
        "e30.e30.e30",  # a header without alg
        "W10.e30.",  # a header that is a list
        "x" * (MAX_TOKEN_LENGTH + 1),
        "é.é.é",
        "\ud800.a.b",
    ],
    ids=lambda bad: repr(bad[:24]),
)
def test_anything_that_is_not_a_jwt_is_refused(bad: str) -> None:
    assert refusal(TokenVerifier(settings()), bad)


def test_an_overlong_token_is_refused_unread_even_when_its_signature_holds() -> None:
    padded = token(padding="x" * MAX_TOKEN_LENGTH)
    assert refusal(TokenVerifier(settings()), padded) == "is not a well-formed JWT"


# --- the issuer ------------------------------------------------------------------------------


@pytest.mark.parametrize("user_id", [0, -1, 2**63, True, "7", 7.0, None])
def test_the_issuer_refuses_what_is_not_a_user_id(user_id: Any) -> None:
    with pytest.raises(ValidationError, match="user_id") as caught:
        TokenIssuer(settings()).issue(user_id)
    assert caught.value.errors()[0]["loc"] == ("user_id",)


def test_the_issuer_refuses_a_lifetime_under_a_second_and_needs_the_shared_secret() -> None:
    with pytest.raises(ValidationError, match="ttl"):
        TokenIssuer(settings()).issue(7, timedelta(seconds=0))
    with pytest.raises(ValidationError, match="ttl"):
        TokenIssuer(settings(), ttl=timedelta(seconds=-5))
    jwks = settings(secret=None, jwks_url="https://auth.example.com/jwks", algorithms=("EdDSA",))
    with pytest.raises(TokenConfigError, match="issuing tokens needs the shared secret"):
        TokenIssuer(jwks)


# --- through the example service --------------------------------------------------------

TODO_ROUTES = (
    ("POST", "/todos"),
    ("GET", "/todos"),
    ("GET", "/todos/counts"),
    ("GET", "/todos/1"),
    ("PATCH", "/todos/1"),
    ("POST", "/todos/1/toggle"),
    ("DELETE", "/todos/1"),
)
INVALID_TOKEN = 'Bearer error="invalid_token"'


def bad_tokens(user_id: int, good: str) -> dict[str, tuple[dict[str, Any], str]]:
    """Each bad credential the service must refuse, and the WWW-Authenticate it must answer."""

    def signed(secret: str = TOKEN_SECRET, **changes: object) -> dict[str, Any]:
        return bearer(token(secret, sub=str(user_id), **changes))

    now = int(time.time())
    header, payload, signature = good.split(".")
    other_payload = token(TOKEN_SECRET, sub=str(user_id + 1)).split(".")[1]
    cases: dict[str, dict[str, Any]] = {
        "not a jwt": bearer("not-a-token"),
        "forged signature": bearer(f"{header}.{payload}.{signature[::-1]}"),
        "another user's payload": bearer(f"{header}.{other_payload}.{signature}"),
        "another secret": signed(OTHER_SECRET),
        "expired": signed(exp=now - 3600),
        "not yet valid": signed(nbf=now + 3600),
        "issued in the future": signed(iat=now + 3600),
        "another audience": signed(aud="another-service"),
        "another issuer": signed(iss="someone-else"),
        "no exp": signed(exp=DROP),
        "alg none": bearer(hand_signed({"alg": "none"}, claims(sub=str(user_id)), None)),
        "overlong": bearer("x" * (MAX_TOKEN_LENGTH + 1)),
        "not ascii": {"Authorization": "Bearer é.é.é".encode("latin-1")},
    }
    for subject in (0, -1, 2**63, "abc", 1.5, True, None):
        cases[f"sub {subject!r}"] = bearer(token(TOKEN_SECRET, sub=subject))
    refused = {name: (headers, INVALID_TOKEN) for name, headers in cases.items()}
    for name, headers in {
        "no credentials": {},
        "basic": {"Authorization": "Basic YW5uOnB3"},
        "empty bearer": {"Authorization": "Bearer "},
        "bare word": {"Authorization": "Bearer"},
    }.items():
        refused[name] = (headers, "Bearer")
    return refused


def test_every_todo_route_refuses_each_bad_token_with_401_and_www_authenticate(
    client: TestClient,
) -> None:
    ann_id = register(client, "ann@example.com")
    ann = login(client, "ann@example.com")
    good = ann["Authorization"].removeprefix("Bearer ")
    quiet = TestClient(client.app, raise_server_exceptions=False)
    for name, (headers, challenge) in bad_tokens(ann_id, good).items():
        for method, url in TODO_ROUTES:
            answer = quiet.request(method, url, headers=headers, json={"title": "x"})
            where = (name, method, url)
            assert answer.status_code == 401, (*where, answer.status_code, answer.text)
            assert answer.headers["WWW-Authenticate"] == challenge, where
            detail = answer.json()["detail"]
            assert detail.startswith(("the bearer token ", "a bearer token is required")), where
            token_text = str(headers.get("Authorization", ""))[len("Bearer ") :]
            assert len(token_text) < 9 or token_text not in answer.text, where
    assert client.get("/todos/counts", headers=ann).status_code == 200  # the good token still works


def test_login_answers_a_jwt_naming_the_user_for_this_service(client: TestClient) -> None:
    user_id = register(client, "ann@example.com")
    answer = client.post("/login", json={"email": "ann@example.com", "password": PASSWORD})
    payload = jwt.decode(
        answer.json()["access_token"], TOKEN_SECRET, algorithms=["HS256"], audience=AUDIENCE
    )
    assert (payload["sub"], payload["iss"], payload["exp"] - payload["iat"]) == (
        str(user_id),
        ISSUER,
        3600,
    )


def test_the_openapi_schema_shows_the_bearer_scheme_on_every_todo_route(
    service: ModuleType,
) -> None:
    schema = service.app.openapi()
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT naming the user in `sub`.",
    }
    for method, url in TODO_ROUTES:
        path = url.replace("/1", "/{todo_id}")
        operation = schema["paths"][path][method.lower()]
        assert operation["security"] == [{"HTTPBearer": []}], (method, path)
    for path in ("/users", "/login"):
        assert "security" not in schema["paths"][path]["post"]
