"""Every endpoint of the example service, blocking and asyncio, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD, new_account, register


def add(client: TestClient, headers: dict[str, str], title: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/todos", json={"title": title, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_register_answers_the_account_without_any_password_or_hash(client: TestClient) -> None:
    response = client.post("/users", json={"email": "Ann@Example.com", "password": PASSWORD})
    assert response.status_code == 201
    assert set(response.json()) == {"id", "email", "created_at", "updated_at"}
    assert response.json()["email"] == "ann@example.com"
    assert PASSWORD not in response.text
    assert "argon2" not in response.text


def test_login_returns_a_bearer_token_that_opens_the_todo_endpoints(client: TestClient) -> None:
    user_id = register(client, "ann@example.com")
    response = client.post("/login", json={"email": "ANN@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert add(client, headers, "first")["user_id"] == user_id


def test_login_answers_a_wrong_password_and_an_unknown_email_alike(client: TestClient) -> None:
    register(client, "ann@example.com")
    wrong_password = client.post(
        "/login", json={"email": "ann@example.com", "password": "not the password"}
    )
    unknown_email = client.post("/login", json={"email": "who@example.com", "password": PASSWORD})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password.headers["WWW-Authenticate"] == "Bearer"


def test_a_todo_is_created_read_patched_toggled_and_deleted(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    todo = add(client, ann, "  Buy milk  ", description="semi-skimmed")
    assert (todo["title"], todo["description"], todo["completed"]) == (
        "Buy milk",
        "semi-skimmed",
        False,
    )
    url = f"/todos/{todo['id']}"
    assert client.get(url, headers=ann).json() == todo

    patched = client.patch(url, json={"title": "Buy oat milk"}, headers=ann)
    assert patched.status_code == 200
    assert patched.json()["title"] == "Buy oat milk"
    assert patched.json()["description"] == "semi-skimmed"  # only what was sent changes

    assert client.post(f"{url}/toggle", headers=ann).json()["completed"] is True
    assert client.post(f"{url}/toggle", headers=ann).json()["completed"] is False
    assert client.get(url, headers=ann).json()["title"] == "Buy oat milk"

    deleted = client.delete(url, headers=ann)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert client.get(url, headers=ann).status_code == 404


def test_list_walks_every_page_with_the_cursor_and_filters_by_completion(
    client: TestClient,
) -> None:
    ann = new_account(client, "ann@example.com")
    ids = [add(client, ann, f"todo {n}")["id"] for n in range(5)]
    for todo_id in ids[1::2]:
        client.post(f"/todos/{todo_id}/toggle", headers=ann)

    seen: list[int] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get("/todos", params=params, headers=ann).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ids[::-1]  # newest first by default

    oldest_first = client.get("/todos", params={"newest_first": False}, headers=ann).json()
    assert [item["id"] for item in oldest_first["items"]] == ids
    done = client.get("/todos", params={"completed": True}, headers=ann).json()
    assert sorted(item["id"] for item in done["items"]) == sorted(ids[1::2])
    not_done = client.get("/todos", params={"completed": "false"}, headers=ann).json()
    assert sorted(item["id"] for item in not_done["items"]) == sorted(ids[0::2])


def test_counts_answer_total_completed_and_open(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    assert client.get("/todos/counts", headers=ann).json() == {
        "total": 0,
        "completed": 0,
        "open": 0,
    }
    add(client, ann, "a", completed=True)
    add(client, ann, "b")
    add(client, ann, "c")
    assert client.get("/todos/counts", headers=ann).json() == {
        "total": 3,
        "completed": 1,
        "open": 2,
    }


def test_another_users_todo_answers_like_a_missing_one_on_every_endpoint(
    client: TestClient,
) -> None:
    ann = new_account(client, "ann@example.com")
    bob = new_account(client, "bob@example.com")
    todo = add(client, ann, "ann's secret")
    missing_id = todo["id"] + 1000

    for todo_id in (todo["id"], missing_id):
        url = f"/todos/{todo_id}"
        answers = [
            client.get(url, headers=bob),
            client.patch(url, json={"title": "mine now"}, headers=bob),
            client.post(f"{url}/toggle", headers=bob),
            client.delete(url, headers=bob),
        ]
        for answer in answers:
            assert answer.status_code == 404
            assert answer.json() == {"detail": f"todo {todo_id} not found"}
            assert "secret" not in answer.text

    assert client.get(f"/todos/{todo['id']}", headers=ann).json() == todo  # untouched
    assert client.get("/todos", headers=bob).json() == {"items": [], "next_cursor": None}
    assert client.get("/todos/counts", headers=bob).json()["total"] == 0


def test_a_request_body_cannot_name_the_owner(client: TestClient) -> None:
    ann = new_account(client, "ann@example.com")
    bob_id = register(client, "bob@example.com")
    response = client.post("/todos", json={"title": "x", "user_id": bob_id}, headers=ann)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "user_id"]
