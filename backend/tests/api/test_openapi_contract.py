"""The services' OpenAPI schema is their contract: each answer declared, each rule stated, and kept.

Schemathesis (`openapi_contract.py`) is the broad check: every check and every
phase against both services. The tests after it pin, one by one, what it found
wrong before: statuses answered but not declared, requests the schema allowed
and the service refused, a 405 naming the wrong methods, a concrete path
answered as a todo id.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from src.api import error_responses
from src.crud.arguments import MAX_ID
from tests.api.conftest import PASSWORD, TOKEN_SECRET, new_account
from tests.api.openapi_contract import run_all


def test_schemathesis_finds_no_failure_in_either_service_with_every_check_and_phase() -> None:
    for run in run_all(max_examples=3):
        assert run.returncode == 0, f"examples.{run.service}:\n{run.output[-12000:]}"


# What each operation may answer besides its success, and so must declare.
DECLARED = {
    ("post", "/users"): {201, 409, 422, 500, 503},
    ("post", "/login"): {200, 401, 422, 500, 503},
    ("post", "/todos"): {201, 401, 422, 500, 503},
    ("get", "/todos"): {200, 400, 401, 422, 500, 503},
    ("get", "/todos/counts"): {200, 401, 422, 500, 503},
    ("get", "/todos/{todo_id}"): {200, 401, 404, 422, 500, 503},
    ("patch", "/todos/{todo_id}"): {200, 401, 404, 422, 500, 503},
    ("post", "/todos/{todo_id}/toggle"): {200, 401, 404, 422, 500, 503},
    ("delete", "/todos/{todo_id}"): {204, 401, 404, 422, 500, 503},
    ("patch", "/users/me"): {200, 401, 409, 422, 500, 503},
    ("post", "/users/me/deactivate"): {204, 401, 422, 500, 503},
}


def openapi_of(module: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("EXAMPLE_TOKEN_SECRET", TOKEN_SECRET)
    return dict(importlib.import_module(f"examples.{module}").app.openapi())


def test_every_operation_declares_each_status_it_answers_with_the_body_and_headers(
    service: ModuleType,
) -> None:
    schema = service.app.openapi()
    operations = {(m, p): op for p, item in schema["paths"].items() for m, op in item.items()}
    assert {key: {int(s) for s in op["responses"]} for key, op in operations.items()} == DECLARED
    for operation in operations.values():
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                body = "FieldErrors" if status == "422" else "ErrorMessage"
                content = answer["content"]["application/json"]["schema"]
                assert content == {"$ref": f"#/components/schemas/{body}"}
    headers = {s: a.get("headers", {}) for s, a in operations["get", "/todos"]["responses"].items()}
    assert headers["503"]["Retry-After"]["required"] is True
    assert headers["401"]["WWW-Authenticate"]["required"] is True


def test_both_services_publish_one_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    blocking, asyncio = openapi_of("sync_app", monkeypatch), openapi_of("async_app", monkeypatch)
    assert {**blocking, "info": None} == {**asyncio, "info": None}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/todos", "GET, POST"),
        ("PUT", "/todos/1", "DELETE, GET, PATCH"),
        ("GET", "/todos/1/toggle", "POST"),
        ("DELETE", "/users", "POST"),
        ("HEAD", "/login", "POST"),
    ],
)
def test_a_method_the_path_does_not_declare_is_405_naming_every_method_of_the_path(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    answer = client.request(method, path)
    assert (answer.status_code, answer.headers["allow"]) == (405, allow)


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "PUT"])
def test_the_concrete_path_todos_counts_is_its_own_resource_answering_405_allow_get(
    client: TestClient, method: str
) -> None:
    ann = new_account(client, "ann@example.com")
    answer = client.request(method, "/todos/counts", headers=ann)
    assert (answer.status_code, answer.headers["allow"]) == (405, "GET")
    # A segment no concrete path declares is still a todo id, refused as one.
    answer = client.patch("/todos/first", headers=ann, json={})
    assert answer.status_code == 422
    assert [error["loc"] for error in answer.json()["detail"]] == [["path", "todo_id"]]


@pytest.mark.parametrize("todo_id", [0, MAX_ID + 1])
def test_a_todo_id_outside_1_to_2_63_minus_1_is_the_declared_422_and_the_schema_says_the_range(
    client: TestClient, service: ModuleType, todo_id: int
) -> None:
    ann = new_account(client, "ann@example.com")
    answer = client.get(f"/todos/{todo_id}", headers=ann)
    assert answer.status_code == 422
    assert [error["loc"] for error in answer.json()["detail"]] == [["path", "todo_id"]]
    operation = service.app.openapi()["paths"]["/todos/{todo_id}"]["get"]
    (parameter,) = operation["parameters"]
    assert (parameter["schema"]["minimum"], parameter["schema"]["maximum"]) == (1, MAX_ID)
    assert "exclusiveMinimum" not in parameter["schema"]
    assert "422" in operation["responses"]


@pytest.mark.parametrize(
    "body",
    [b'{"email": "ann@example.com", "password": "\xff\xfe not UTF-8"}', b"[" * 100_000],
    ids=["not-utf-8", "nested-too-deep"],
)
def test_a_body_that_cannot_be_read_as_json_is_422_json_invalid_at_the_body(
    client: TestClient, body: bytes
) -> None:
    answer = client.post("/users", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]
    }


def request_schema(service: ModuleType, name: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft202012Validator(service.app.openapi()["components"]["schemas"][name])


@pytest.mark.parametrize(
    ("title", "valid"),
    [
        ("\u0086", False),  # a C1 control: invisible
        ("\b", False),
        (" \u200b\t\ufeff ", False),
        ("a\x00", False),
        ("t" * 256, False),
        ("a" + " " * 300, True),  # measured once stripped: one character
        ("\u00a0.\u00a0", True),
        ("t" * 255, True),
    ],
)
def test_a_title_is_refused_exactly_when_the_schema_says_so(
    client: TestClient, service: ModuleType, title: str, *, valid: bool
) -> None:
    assert request_schema(service, "TodoCreate").is_valid({"title": title}) is valid
    ann = new_account(client, "ann@example.com")
    created = client.post("/todos", json={"title": title}, headers=ann)
    assert created.status_code == (201 if valid else 422)
    todo = client.post("/todos", json={"title": "kept"}, headers=ann).json()
    updated = client.patch(f"/todos/{todo['id']}", json={"title": title}, headers=ann)
    assert request_schema(service, "TodoUpdate").is_valid({"title": title}) is valid
    assert updated.status_code == (200 if valid else 422)


@pytest.mark.parametrize("field", ["title", "completed"])
def test_a_field_an_update_may_omit_but_not_null_is_not_nullable_in_the_schema(
    client: TestClient, service: ModuleType, field: str
) -> None:
    ann = new_account(client, "ann@example.com")
    todo = client.post("/todos", json={"title": "kept"}, headers=ann).json()
    assert client.patch(f"/todos/{todo['id']}", json={field: None}, headers=ann).status_code == 422
    assert not request_schema(service, "TodoUpdate").is_valid({field: None})
    assert request_schema(service, "TodoUpdate").is_valid({"description": None})


@pytest.mark.parametrize(
    ("email", "password", "valid"),
    [
        ("ann@example.com", "short-1", False),
        ("ann@example.com", "p" * 129, False),
        ("ann@example.com", "nul\x00in-it", False),
        ("ann@example.test", PASSWORD, False),  # a special-use domain
        ("ann@EXAMPLE.LOCAL", PASSWORD, False),
        ("ann@example.com", "p" * 128, True),
    ],
)
def test_a_registration_is_refused_exactly_when_the_schema_says_so(
    client: TestClient, service: ModuleType, email: str, password: str, *, valid: bool
) -> None:
    body = {"email": email, "password": password}
    assert request_schema(service, "UserCreate").is_valid(body) is valid
    assert client.post("/users", json=body).status_code == (201 if valid else 422)


def test_a_route_cannot_declare_an_error_answer_the_service_never_sends() -> None:
    with pytest.raises(ValueError, match="418"):
        error_responses(401, 418)
