"""The service benchmark's load: N concurrent users, each repeating one bounded mix of requests.

Each user is an account of its own (ids 1..N, seeded alike in both
databases) with a signed bearer token, and runs this cycle until the run's
time or cycle budget is spent, with no think time (a closed loop):

    list           GET  /todos?limit=20
    list_filtered  GET  /todos?completed=false&limit=20
    list_next      GET  /todos?completed=false&limit=20&cursor=<next_cursor of the above>
    get            GET  /todos/{id of a todo on the first page}
    create         POST /todos
    patch          PATCH /todos/{id of the created todo}
    toggle         POST /todos/{id}/toggle
    counts         GET  /todos/counts

The same driver hits the example service and the peer: the paths and JSON
shapes are the same, and a cursor is passed back exactly as it was received.
Any answer other than the expected status is counted as an error and stops
that user, so a broken service shows up as errors, never as speed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx2

from examples.auth import token_settings
from src.api.tokens import TokenIssuer

ENDPOINTS = (
    "list",
    "list_filtered",
    "list_next",
    "get",
    "create",
    "patch",
    "toggle",
    "counts",
)
PAGE = 20


@dataclass(slots=True)
class LoadResult:
    """Latencies (seconds) per endpoint, the wall time of the run and what went wrong."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    elapsed_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(len(samples) for samples in self.latencies.values())


class _UnexpectedAnswerError(Exception):
    pass


class _User:
    def __init__(self, client: httpx2.AsyncClient, user_id: int, token: str, seed: int) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.random = random.Random(seed)  # noqa: S311  choosing todos, not secrets
        self.user_id = user_id

    async def call(
        self, result: LoadResult, name: str, method: str, path: str, expect: int, **kw: Any
    ) -> Any:
        started = time.perf_counter()
        response = await self.client.request(method, path, headers=self.headers, **kw)
        elapsed = time.perf_counter() - started
        if response.status_code != expect:
            raise _UnexpectedAnswerError(
                f"{name}: {method} {path} answered {response.status_code}: {response.text[:200]}"
            )
        result.latencies[name].append(elapsed)
        return response.json() if response.status_code != 204 else None

    async def cycle(self, result: LoadResult, n: int) -> None:
        page = await self.call(result, "list", "GET", "/todos", 200, params={"limit": PAGE})
        listed = {"completed": "false", "limit": PAGE}
        first = await self.call(result, "list_filtered", "GET", "/todos", 200, params=listed)
        if first["next_cursor"] is not None:
            following = {**listed, "cursor": first["next_cursor"]}
            await self.call(result, "list_next", "GET", "/todos", 200, params=following)
        some = self.random.choice(page["items"])["id"]
        await self.call(result, "get", "GET", f"/todos/{some}", 200)
        body = {"title": f"load {self.user_id}-{n}", "description": "made by the load"}
        created = await self.call(result, "create", "POST", "/todos", 201, json=body)
        change = {"title": f"load {self.user_id}-{n} (edited)", "description": "edited"}
        await self.call(result, "patch", "PATCH", f"/todos/{created['id']}", 200, json=change)
        await self.call(result, "toggle", "POST", f"/todos/{some}/toggle", 200)
        await self.call(result, "counts", "GET", "/todos/counts", 200)


async def _run(
    base_url: str, issuer: TokenIssuer, users: int, duration_s: float, max_cycles: int
) -> LoadResult:
    result = LoadResult()
    limits = httpx2.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + duration_s

        async def one_user(user_id: int) -> None:
            user = _User(client, user_id, issuer.issue(user_id), seed=user_id)
            for n in range(max_cycles):
                if time.perf_counter() >= deadline:
                    return
                try:
                    await user.cycle(result, n)
                except (_UnexpectedAnswerError, httpx2.HTTPError) as exc:
                    result.errors.append(f"user {user_id}: {exc!r}"[:300])
                    return

        started = time.perf_counter()
        await asyncio.gather(*(one_user(user_id) for user_id in range(1, users + 1)))
        result.elapsed_s = time.perf_counter() - started
    return result


def run_load(
    base_url: str, secret: bytes, *, users: int, duration_s: float, max_cycles: int
) -> LoadResult:
    """Drive `users` concurrent users against `base_url` until time or cycles run out."""
    return asyncio.run(
        _run(base_url, TokenIssuer(token_settings(secret.decode())), users, duration_s, max_cycles)
    )
