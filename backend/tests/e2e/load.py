"""A bounded load of several users on the example service, each checked against its own model.

Every user keeps a model of its todos built only from acknowledged answers
(2xx). Each read is compared with the model; a 503 changes nothing in it, and
the write it refused is noted, so the reconciliation after the run can tell
an acknowledged write that was lost from an unacknowledged one that was
applied. Users also ask for todos of other users, which must answer 404.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx2

PASSWORD = "load-test-password-1"
OPERATIONS = ["create"] * 6 + ["toggle"] * 4 + ["patch"] * 3 + ["delete"] * 2
OPERATIONS += ["get"] * 2 + ["list"] * 2 + ["counts", "foreign"]


@dataclass
class Tally:
    """What all users saw; shared between their threads under `lock`."""

    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: list[str] = field(default_factory=list)
    cross_user_reads: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    requests: int = 0
    known_ids: dict[int, list[int]] = field(default_factory=dict)  # user -> todo ids ever seen
    lock: threading.Lock = field(default_factory=threading.Lock)


class User:
    def __init__(self, index: int, base_url: str, tally: Tally, seed: int) -> None:
        self.index = index
        self.tally = tally
        self.random = random.Random(seed)
        self.http = httpx2.Client(base_url=base_url, timeout=20)
        self.model: dict[int, tuple[str, bool]] = {}
        self.unacknowledged: dict[int | str, str] = {}  # todo id or title -> write refused
        self.user_id = 0
        self.sequence = 0

    def sign_up(self) -> None:
        account = {"email": f"load{self.index}@example.com", "password": PASSWORD}
        self.user_id = int(self.http.post("/users", json=account).raise_for_status().json()["id"])
        token = self.http.post("/login", json=account).raise_for_status().json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.tally.known_ids[self.user_id] = []

    def run(self, until: float, max_operations: int) -> None:
        try:
            for _ in range(max_operations):
                if time.monotonic() > until:
                    break
                self.step(self.random.choice(OPERATIONS))
        finally:
            self.http.close()

    def step(self, operation: str) -> None:
        self.sequence += 1
        todo_id = self.random.choice(list(self.model)) if self.model else None
        if operation == "create" or todo_id is None:
            title = f"u{self.index}-{self.sequence}"
            answer = self.call("POST", "/todos", json={"title": title})
            if answer is not None and answer.status_code == 201:
                self.check_owned(answer.json())
                self.model[answer.json()["id"]] = (title, False)
                with self.tally.lock:
                    self.tally.known_ids[self.user_id].append(answer.json()["id"])
            else:
                self.unacknowledged[title] = "create"
        elif operation in {"toggle", "patch", "delete"}:
            self.write(operation, todo_id)
        elif operation == "get":
            answer = self.call("GET", f"/todos/{todo_id}")
            if answer is not None and answer.status_code == 200:
                self.compare({todo_id: answer.json()}, f"get {todo_id}")
        elif operation == "list":
            self.read_list()
        elif operation == "counts":
            answer = self.call("GET", "/todos/counts")
            if answer is not None and answer.status_code == 200:
                done = sum(completed for _, completed in self.model.values())
                expected = {"total": len(self.model), "completed": done}
                expected["open"] = len(self.model) - done
                if answer.json() != expected:
                    self.mismatch(f"counts {answer.json()} != model {expected}")
        else:
            self.read_foreign()

    def write(self, operation: str, todo_id: int) -> None:
        title, completed = self.model[todo_id]
        if operation == "toggle":
            answer, after = self.call("POST", f"/todos/{todo_id}/toggle"), (title, not completed)
        elif operation == "patch":
            new_title = f"u{self.index}-{self.sequence}-patched"
            answer = self.call("PATCH", f"/todos/{todo_id}", json={"title": new_title})
            after = (new_title, completed)
        else:
            answer, after = self.call("DELETE", f"/todos/{todo_id}"), None
        if answer is None or answer.status_code >= 300:
            self.unacknowledged[todo_id] = operation
            return
        if after is None:
            del self.model[todo_id]
            return
        self.compare({todo_id: answer.json()}, f"{operation} {todo_id}", before=after)
        self.model[todo_id] = after

    def read_list(self) -> None:
        seen: dict[int, Any] = {}
        params: dict[str, Any] = {"limit": 25}
        while True:
            answer = self.call("GET", "/todos", params=params)
            if answer is None or answer.status_code != 200:
                return  # the database went away mid-walk: nothing to compare
            seen |= {item["id"]: item for item in answer.json()["items"]}
            if answer.json()["next_cursor"] is None:
                break
            params["cursor"] = answer.json()["next_cursor"]
        if set(seen) != set(self.model):
            self.mismatch(f"list ids {sorted(seen)} != model {sorted(self.model)}")
        self.compare(seen, "list")

    def read_foreign(self) -> None:
        with self.tally.lock:
            others = [
                i for user, ids in self.tally.known_ids.items() if user != self.user_id for i in ids
            ]
        if not others:
            return
        todo_id = self.random.choice(others)
        answer = self.call("GET", f"/todos/{todo_id}", foreign=True)
        if answer is not None and answer.status_code == 200:
            with self.tally.lock:
                self.tally.cross_user_reads.append(f"user {self.user_id} read todo {todo_id}")

    def compare(
        self, items: dict[int, Any], what: str, before: tuple[str, bool] | None = None
    ) -> None:
        for todo_id, item in items.items():
            self.check_owned(item)
            expected = before if before is not None else self.model.get(todo_id)
            if expected != (item["title"], item["completed"]):
                self.mismatch(f"{what}: todo {todo_id} is {item} but the model has {expected}")

    def check_owned(self, item: dict[str, Any]) -> None:
        if item["user_id"] != self.user_id or not item["title"].startswith(f"u{self.index}-"):
            with self.tally.lock:
                self.tally.cross_user_reads.append(f"user {self.user_id} was shown {item}")

    def mismatch(self, message: str) -> None:
        with self.tally.lock:
            self.tally.mismatches.append(f"user {self.user_id}: {message}")

    def call(self, method: str, url: str, foreign: bool = False, **kwargs: Any) -> Any:
        """The answer, or None after a transport error; statuses are tallied."""
        try:
            answer = self.http.request(method, url, **kwargs)
        except httpx2.TransportError as exc:
            with self.tally.lock:
                self.tally.requests += 1
                self.tally.transport_errors.append(f"{method} {url}: {exc!r}")
            return None
        expected = {404, 503} if foreign else {200, 201, 204, 503}
        with self.tally.lock:
            self.tally.requests += 1
            self.tally.statuses[answer.status_code] += 1
            if answer.status_code not in expected:
                self.tally.unexpected.append(f"{method} {url}: {answer.status_code} {answer.text}")
        return answer
