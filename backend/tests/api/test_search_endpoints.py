"""`?search=` on `GET /todos` and `GET /todos/counts`: both services, both backends."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import new_account


def add(client: TestClient, headers: dict[str, str], title: str, **fields: Any) -> int:
    response = client.post("/todos", json={"title": title, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_search_lists_and_counts_only_the_callers_matching_todos(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    bob = new_account(client, "bob@example.com")
    add(client, bob, "Buy milk")
    milk = add(client, ann, "Buy MILK", completed=True)
    oat = add(client, ann, "Shopping", description="oat milk, 100% organic")
    add(client, ann, "Call mum", description="plans for 2030")

    seen: list[int] = []
    params: dict[str, Any] = {"search": " milk ", "limit": 1}
    while True:
        page = client.get("/todos", params=params, headers=ann).json()
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [oat, milk]
    percent = client.get("/todos", params={"search": "0%"}, headers=ann).json()  # % is literal
    assert [item["id"] for item in percent["items"]] == [oat]
    counts = client.get("/todos/counts", params={"search": "MILK"}, headers=ann).json()
    assert counts == {"total": 2, "completed": 1, "open": 1}


def test_a_cursor_of_one_search_is_a_400_for_another(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    for n in range(3):
        add(client, ann, f"milk and bread {n}")
    first = client.get("/todos", params={"search": "milk", "limit": 1}, headers=ann).json()
    cursor = first["next_cursor"]
    for other in ({"search": "bread"}, {}):
        response = client.get("/todos", params={"cursor": cursor, **other}, headers=ann)
        assert response.status_code == 400, response.text


def test_a_blank_or_too_long_search_is_a_422_naming_search(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    for path in ("/todos", "/todos/counts"):
        for search in ("", "   ", "m" * 201):
            response = client.get(path, params={"search": search}, headers=ann)
            assert response.status_code == 422, response.text
            assert "search" in response.text
