"""`PATCH /users/me` and `POST /users/me/deactivate`, blocking and asyncio, SQLite and PostgreSQL.

Every change is confirmed by the current password; a deactivated account's
tokens are refused and its login is answered as a wrong password. Opening it
again is an operator's action (`crud.set_active`), not a route.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from src import crud
from src.database.connection import build_engine
from tests.api.conftest import PASSWORD, login, new_account, register
from tests.conftest import settings_for

NEW_PASSWORD = "a brand new passphrase"
WRONG = "not the password at all"


@pytest.fixture(autouse=True)
def fresh_view_of_accounts(service: ModuleType) -> Iterator[None]:
    """Each test has a database of its own: nothing the service remembers carries over."""
    service.accounts.clear()
    yield
    service.accounts.clear()


def operator_sets_active(database_url: str, user_id: int, active: bool) -> None:
    """What an operator's script does, outside the service."""
    engine = build_engine(settings_for(database_url))
    try:
        with Session(engine) as session:
            crud.set_active(session, user_id, active)
    finally:
        engine.dispose()


def test_an_email_change_answers_the_account_keyed_as_registration_keys_it(
    client: TestClient,
) -> None:
    ann = new_account(client, "ann@example.com")
    answer = client.patch(
        "/users/me",
        json={"current_password": PASSWORD, "email": " Ann.New@EXAMPLE.com"},
        headers=ann,
    )
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"id", "email", "created_at", "updated_at"}
    assert answer.json()["email"] == "ann.new@example.com"
    assert PASSWORD not in answer.text
    assert "argon2" not in answer.text
    login(client, "ANN.NEW@example.com")
    assert client.post("/login", json={"email": "ann@example.com", "password": PASSWORD}).is_error


def test_a_password_change_lets_only_the_new_password_log_in(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    answer = client.patch(
        "/users/me", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=ann
    )
    assert answer.status_code == 200, answer.text
    login(client, "ann@example.com", NEW_PASSWORD)
    old = client.post("/login", json={"email": "ann@example.com", "password": PASSWORD})
    assert old.status_code == 401


def test_a_wrong_current_password_is_a_422_naming_the_field_and_changes_nothing(
    client: TestClient,
) -> None:
    ann = new_account(client, "ann@example.com")
    register(client, "bob@example.com")
    for change in ({"email": "new@example.com"}, {"email": "bob@example.com"}, {}):
        body = {"current_password": WRONG, "new_password": NEW_PASSWORD, **change}
        answer = client.patch("/users/me", json=body, headers=ann)
        assert (answer.status_code, answer.json()) == (
            422,
            {
                "detail": [
                    {
                        "loc": ["body", "current_password"],
                        "msg": "does not match the account's password",
                        "type": "password_incorrect",
                    }
                ]
            },
        )
        assert WRONG not in answer.text
    login(client, "ann@example.com")  # unchanged


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"email": "new@example.com"}, "current_password", "missing"),
        ({"current_password": PASSWORD, "new_password": "tiny-pw"}, "new_password", None),
        ({"current_password": PASSWORD, "email": None}, "email", "value_error"),
        ({"current_password": PASSWORD, "is_active": True}, "is_active", "extra_forbidden"),
    ],
)
def test_a_change_breaking_a_rule_is_a_422_naming_the_field(
    client: TestClient, body: dict[str, object], field: str, rule: str | None
) -> None:
    ann = new_account(client, "ann@example.com")
    answer = client.patch("/users/me", json=body, headers=ann)
    assert answer.status_code == 422
    error = answer.json()["detail"][0]
    assert error["loc"][:2] == ["body", field]
    assert rule is None or error["type"] == rule
    assert "tiny-pw" not in answer.text


def test_an_email_another_account_has_is_a_409(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    register(client, "bob@example.com")
    body = {"current_password": PASSWORD, "email": "BOB@example.com"}
    answer = client.patch("/users/me", json=body, headers=ann)
    assert answer.status_code == 409
    login(client, "ann@example.com")


def test_the_account_routes_need_a_token(client: TestClient) -> None:
    register(client, "ann@example.com")
    body = {"current_password": PASSWORD}
    assert client.patch("/users/me", json=body).status_code == 401
    assert client.post("/users/me/deactivate", json=body).status_code == 401


def test_deactivation_refuses_the_token_and_answers_login_as_a_wrong_password(
    client: TestClient, database_url: str
) -> None:
    ann_id = register(client, "ann@example.com")
    ann = login(client, "ann@example.com")
    assert client.post("/todos", json={"title": "kept"}, headers=ann).status_code == 201
    wrong = client.post("/users/me/deactivate", json={"current_password": WRONG}, headers=ann)
    assert (wrong.status_code, wrong.json()["detail"][0]["loc"]) == (
        422,
        ["body", "current_password"],
    )
    assert client.get("/todos/counts", headers=ann).status_code == 200  # still active

    done = client.post("/users/me/deactivate", json={"current_password": PASSWORD}, headers=ann)
    assert (done.status_code, done.content) == (204, b"")
    for refused in (
        client.get("/todos/counts", headers=ann),
        client.patch("/users/me", json={"current_password": PASSWORD}, headers=ann),
        client.post("/users/me/deactivate", json={"current_password": PASSWORD}, headers=ann),
    ):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    right = client.post("/login", json={"email": "ann@example.com", "password": PASSWORD})
    wrong_password = client.post("/login", json={"email": "ann@example.com", "password": WRONG})
    assert (right.status_code, right.json()) == (401, wrong_password.json())
    assert right.headers["WWW-Authenticate"] == wrong_password.headers["WWW-Authenticate"]

    operator_sets_active(database_url, ann_id, True)  # no route reactivates: an operator does
    assert client.get("/todos/counts", headers=ann).json()["total"] == 1  # at once, todos kept
    login(client, "ann@example.com")


def test_an_operators_deactivation_refuses_the_token_where_the_account_was_not_seen_active(
    client: TestClient, service: ModuleType, database_url: str
) -> None:
    """A worker that has not found the account active since asks the database; one that
    has, asks again once `recheck_after_s` has passed (`tests/unit/test_active_accounts.py`)."""
    ann_id = register(client, "ann@example.com")
    ann = login(client, "ann@example.com")
    operator_sets_active(database_url, ann_id, False)
    assert client.get("/todos/counts", headers=ann).status_code == 401
    assert client.post("/login", json={"email": "ann@example.com", "password": PASSWORD}).is_error


def test_the_routes_publish_what_they_answer(service: ModuleType) -> None:
    paths = service.app.openapi()["paths"]
    patch, deactivate = paths["/users/me"]["patch"], paths["/users/me/deactivate"]["post"]
    assert set(patch["responses"]) == {"200", "401", "409", "422", "500", "503"}
    assert set(deactivate["responses"]) == {"204", "401", "422", "500", "503"}
    schemas = service.app.openapi()["components"]["schemas"]
    update = schemas["UserUpdate"]
    assert update["required"] == ["current_password"]
    for field in ("email", "new_password"):  # may be omitted, never null
        assert "null" not in str(update["properties"][field])
        assert "default" not in update["properties"][field]
    assert "is_active" not in update["properties"]


def test_a_todo_request_of_an_account_found_active_asks_nothing_more(
    client: TestClient, service: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One read of the account for many requests: counted at the service's reader."""
    ann = new_account(client, "ann@example.com")
    asked: list[int] = []
    real = service.accounts._read_active

    async def counting(user_id: int) -> bool:
        asked.append(user_id)
        return bool(await real(user_id))

    monkeypatch.setattr(service.accounts, "_read_active", counting)
    for _ in range(5):
        assert client.get("/todos/counts", headers=ann).status_code == 200
    assert len(asked) == 1
