"""The package's errors as HTTP answers: the status, the field, and nothing that should not leak."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from src.api import RETRY_AFTER_S, UserIdVerifierError, register_error_handlers, verified_user_id
from src.config.settings import get_settings
from src.database.async_connection import get_async_engine
from src.database.connection import get_engine
from src.errors import InMemoryDatabaseBusyError, SettingsError
from tests.api.conftest import PASSWORD, new_account, serve
from tests.standins.neon_local import free_port


def assert_no_input_or_trace(answer: Any, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in answer.text
    assert "Traceback" not in answer.text
    assert '"input"' not in answer.text


def test_not_found_is_404_naming_the_todo(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    answer = client.get("/todos/424242", headers=ann)
    assert (answer.status_code, answer.json()) == (404, {"detail": "todo 424242 not found"})


def test_a_duplicate_email_in_any_letter_case_is_409(client: TestClient) -> None:
    new_account(client, "ann@example.com")
    answer = client.post("/users", json={"email": "ANN@example.COM", "password": PASSWORD})
    assert answer.status_code == 409
    assert answer.json()["detail"].startswith("email:")


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short-1", "string_too_short"),
        ("p" * 129, "string_too_long"),
        ("nul\x00in-it", "value_error"),
    ],
)
def test_a_rejected_password_is_422_naming_the_field_and_never_echoed(
    client: TestClient, password: str, rule: str
) -> None:
    answer = client.post("/users", json={"email": "ann@example.com", "password": password})
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {"loc": ["body", "password"], "msg": answer.json()["detail"][0]["msg"], "type": rule}
    ]
    assert_no_input_or_trace(answer, password, password.replace("\x00", "\\u0000"))


def test_login_never_echoes_the_password_it_refuses(client: TestClient) -> None:
    password = "hunter2-" * 20
    answer = client.post("/login", json={"email": "ann@example.com", "password": password})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "password"]
    assert_no_input_or_trace(answer, password)


def test_a_body_breaking_a_rule_is_422_naming_each_field(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    title = "t" * 256
    answer = client.post("/todos", json={"title": title, "completed": "yes"}, headers=ann)
    assert answer.status_code == 422
    assert {tuple(error["loc"]) for error in answer.json()["detail"]} == {
        ("body", "title"),
        ("body", "completed"),
    }
    assert_no_input_or_trace(answer, title)
    patch = client.patch("/todos/1", json={"title": None}, headers=ann)
    assert patch.status_code == 422
    assert patch.json()["detail"][0]["loc"] == ["body", "title"]


@pytest.mark.parametrize(
    ("method", "url", "loc"),
    [
        ("GET", "/todos/0", ["path", "todo_id"]),
        ("GET", f"/todos/{2**63}", ["path", "todo_id"]),
        ("PATCH", "/todos/-1", ["path", "todo_id"]),
        ("POST", "/todos/0/toggle", ["path", "todo_id"]),
        ("DELETE", f"/todos/{2**64}", ["path", "todo_id"]),
        ("GET", "/todos?limit=201", ["query", "limit"]),
        ("GET", "/todos?limit=0", ["query", "limit"]),
        ("GET", "/todos?cursor=", ["query", "cursor"]),
        ("GET", f"/todos?cursor={'A' * 513}", ["query", "cursor"]),
    ],
)
def test_a_request_value_the_operation_would_refuse_is_422_naming_it(
    client: TestClient, method: str, url: str, loc: list[str]
) -> None:
    """Refused where FastAPI reads the request, with the operation's own rule."""
    ann = new_account(client, "ann@example.com")
    answer = client.request(method, url, headers=ann, json={"title": "x"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == loc
    assert_no_input_or_trace(answer)


@pytest.mark.parametrize(
    "variables",
    [
        {"DB_POOL_SIZE": "many"},
        {"DB_POOL_TIMEOUT_S": "-1"},
        {"APP_ENV": "production", "CURSOR_SECRET_KEY": ""},  # production without a key
        {"CURSOR_SECRET_KEY": "too-short"},
    ],
    ids=["pool-size", "pool-timeout", "production-without-key", "short-key"],
)
def test_a_server_setting_that_breaks_a_rule_is_never_the_clients_to_read(
    database_url: str,  # first: emptied after the variables below are gone again
    service: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
) -> None:
    """The server's own configuration is not the client's input: never a 4xx, never named.

    With the package's lifespan the service does not start at all, and the
    error (setting and rule) goes to the server's log. Served without it, a
    request that meets the setting is a bare 500.
    """
    serve(monkeypatch, database_url, **variables)
    with pytest.raises(SettingsError) as raised, TestClient(service.app):
        pass  # the lifespan's start-up reads the settings
    assert any(name in str(raised.value) for name in variables)
    headers = {"Authorization": f"Bearer {service.issuer.issue(1)}"}
    unstarted = TestClient(service.app, raise_server_exceptions=False)  # no lifespan run
    for method, url, body in (
        ("GET", "/todos/counts", None),
        ("POST", "/users", {"email": "ann@example.com", "password": PASSWORD}),
    ):
        answer = unstarted.request(method, url, headers=headers, json=body)
        assert (answer.status_code, answer.json()) == (500, {"detail": "internal server error"})
        assert_no_input_or_trace(answer, *variables, "too-short")
    get_settings.cache_clear()


@pytest.mark.parametrize("verified", ["7", 7.0, None, True, 0, 2**63, [7]])
def test_a_verifier_that_returns_no_user_id_is_a_bare_500(verified: object) -> None:
    """The application's verifier is server code: what it returns is not the client's input."""
    app = FastAPI()
    register_error_handlers(app)
    reached: list[int] = []
    caller = Depends(verified_user_id(lambda: verified))

    @app.get("/todos/counts")
    def counts(user_id: int = caller) -> int:
        reached.append(user_id)
        return user_id

    answer = TestClient(app, raise_server_exceptions=False).get("/todos/counts")
    assert (answer.status_code, answer.json()) == (500, {"detail": "internal server error"})
    assert reached == []  # refused before the endpoint could hand it to an operation
    with pytest.raises(UserIdVerifierError, match="not a user id"):
        TestClient(app).get("/todos/counts")  # the reason, for the server's log


def test_an_altered_or_foreign_cursor_is_400(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    bob = new_account(client, "bob@example.com")
    for n in range(3):
        client.post("/todos", json={"title": f"todo {n}"}, headers=ann)
    cursor = client.get("/todos", params={"limit": 1}, headers=ann).json()["next_cursor"]
    altered = ("A" if cursor[0] != "A" else "B") + cursor[1:]
    for headers, params in (
        (ann, {"cursor": altered}),
        (ann, {"cursor": cursor, "completed": True}),  # another query's cursor
        (bob, {"cursor": cursor}),  # another user's cursor
    ):
        answer = client.get("/todos", params=params, headers=headers)
        assert answer.status_code == 400
        assert answer.json()["detail"].startswith("cursor:")


def unreachable_postgres() -> str:
    return URL.create(
        "postgresql", "app", "pw-that-must-not-leak", "127.0.0.1", free_port(), "todo"
    ).render_as_string(hide_password=False)


@pytest.fixture
def client_of(
    service: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., TestClient]]:
    """A client of the service on a database of the test's choosing."""
    clients: list[TestClient] = []

    def make(database_url: str, **variables: object) -> TestClient:
        serve(monkeypatch, database_url, **variables)
        clients.append(TestClient(service.app).__enter__())
        return clients[-1]

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    get_settings.cache_clear()


def test_an_unreachable_database_is_503_with_retry_after_and_no_details(
    client_of: Callable[..., TestClient], service: ModuleType
) -> None:
    client = client_of(unreachable_postgres(), DB_CONNECT_RETRY_BUDGET_S=0)
    headers = {"Authorization": f"Bearer {service.issuer.issue(1)}"}
    login = {"email": "ann@example.com", "password": PASSWORD}
    for method, url, body in (
        ("GET", "/todos/counts", None),
        ("POST", "/todos", {"title": "x"}),
        ("POST", "/login", login),
    ):
        answer = client.request(method, url, headers=headers, json=body)
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == str(RETRY_AFTER_S)
        assert_no_input_or_trace(answer, "pw-that-must-not-leak", "127.0.0.1", PASSWORD)


def test_an_exhausted_pool_is_503_with_retry_after(
    client_of: Callable[..., TestClient], service: ModuleType, database_url: str
) -> None:
    client = client_of(database_url, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT_S=0.2)
    ann = new_account(client, "ann@example.com")
    if service.__name__.endswith("async_app"):
        engine = client.portal.call(get_async_engine)  # type: ignore[union-attr]
        held = client.portal.call(engine.connect)  # type: ignore[union-attr]
        release: Callable[[], object] = lambda: client.portal.call(held.close)  # type: ignore[union-attr]  # noqa: E731
    else:
        held_sync = get_engine().connect()
        release = held_sync.close
    try:
        answer = client.get("/todos/counts", headers=ann)
    finally:
        release()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_S)
    assert "busy" in answer.json()["detail"]
    assert client.get("/todos/counts", headers=ann).status_code == 200  # and it recovers


def test_any_other_error_is_a_bare_500_without_a_trace() -> None:
    app = FastAPI()
    register_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("internal detail /srv/app/secret.py line 12")

    client = TestClient(app, raise_server_exceptions=False)
    answer = client.get("/boom")
    assert (answer.status_code, answer.json()) == (500, {"detail": "internal server error"})
    assert_no_input_or_trace(answer, "secret.py")


def test_the_in_memory_database_busy_past_the_timeout_is_503_with_retry_after() -> None:
    """The embedded in-memory database serves one transaction at a time (`memory_pool`)."""
    app = FastAPI()
    register_error_handlers(app)

    @app.get("/busy")
    def busy() -> None:
        raise InMemoryDatabaseBusyError("other transactions held its one connection for 10 s")

    answer = TestClient(app).get("/busy")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_S)
    assert "10 s" not in answer.text
