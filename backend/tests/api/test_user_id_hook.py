"""The caller's user id survives what FastAPI's testing guide does between tests.

FastAPI's guide overrides a dependency for a test and resets
`app.dependency_overrides` afterwards (`.clear()` or `= {}`). The verifier is
part of every route that declares `CurrentUserId`, not an override, so a reset
cannot remove it; a test can still stand in for the caller by overriding the
verifier, and only for as long as the override stays.
"""

from __future__ import annotations

from types import ModuleType

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import new_account, register


@pytest.mark.parametrize("reset", ["clear", "assign"])
def test_every_authenticated_route_still_verifies_after_the_overrides_are_reset(
    client: TestClient, service: ModuleType, reset: str
) -> None:
    ann = new_account(client, "ann@example.com")
    created = client.post("/todos", json={"title": "before"}, headers=ann)
    assert created.status_code == 201
    for _ in range(2):  # as after each of two tests
        if reset == "clear":
            service.app.dependency_overrides.clear()
        else:
            service.app.dependency_overrides = {}
        assert client.get("/todos/counts", headers=ann).json()["total"] == 1
        assert client.get("/todos/counts").status_code == 401  # still verified: no token, no id


def test_a_test_can_stand_in_for_the_caller_by_overriding_the_verifier(
    client: TestClient, service: ModuleType
) -> None:
    ann_id = register(client, "ann@example.com")
    bob = new_account(client, "bob@example.com")
    client.post("/todos", json={"title": "bob's"}, headers=bob)
    service.app.dependency_overrides[service.verify_bearer] = lambda: ann_id
    try:
        as_ann = client.get("/todos/counts")  # no token at all: the override answers
        assert (as_ann.status_code, as_ann.json()["total"]) == (200, 0)
        created = client.post("/todos", json={"title": "ann's"})
        assert created.json()["user_id"] == ann_id
    finally:
        service.app.dependency_overrides.clear()
    assert (
        client.get("/todos/counts").status_code == 401
    )  # the override is gone, the verifier is not
    assert client.get("/todos/counts", headers=bob).json()["total"] == 1


@pytest.mark.parametrize("verified", ["7", None, True, 0])
def test_an_override_that_returns_no_user_id_is_refused_like_the_verifier_would_be(
    client: TestClient, service: ModuleType, verified: object
) -> None:
    service.app.dependency_overrides[service.verify_bearer] = lambda: verified
    try:
        quiet = TestClient(service.app, raise_server_exceptions=False)
        answer = quiet.get("/todos/counts")
        assert (answer.status_code, answer.json()) == (500, {"detail": "internal server error"})
    finally:
        service.app.dependency_overrides.clear()
