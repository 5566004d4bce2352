"""A small client of Neon's API v2: a throwaway branch per test run, always deleted.

    DATABASE branch:  POST   /projects/{project_id}/branches  (with a read_write endpoint)
    its URIs:         GET    /projects/{project_id}/connection_uri?branch_id&database_name
                                                              &role_name&pooled
    clean-up:         DELETE /projects/{project_id}/branches/{branch_id}

(api-docs.neon.tech, "Create branch", "Retrieve connection URI", "Delete branch").
A branch gets a unique name and an expiry (`expires_at`), so even a run killed
before its clean-up leaves nothing behind for long. The API key is sent only
in the Authorization header and never appears in a message.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

API_URL = "https://console.neon.tech/api/v2"
BRANCH_LIFETIME = timedelta(hours=2)


class NeonApiError(RuntimeError):
    """The API refused or could not be reached; the message names the call, not the key."""


@dataclass(frozen=True)
class Branch:
    id: str
    name: str
    database: str
    role: str
    direct_uri: str
    pooled_uri: str


class NeonApi:
    def __init__(self, api_key: str, project_id: str, base_url: str = API_URL) -> None:
        self._key, self.project_id, self.base_url = api_key, project_id, base_url.rstrip("/")

    @classmethod
    def from_environment(cls) -> NeonApi | None:
        """From NEON_API_KEY and NEON_PROJECT_ID (NEON_API_URL optional); None if unset."""
        key, project = os.environ.get("NEON_API_KEY"), os.environ.get("NEON_PROJECT_ID")
        if not key or not project:
            return None
        return cls(key, project, os.environ.get("NEON_API_URL", API_URL))

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = Request(
            f"{self.base_url}/projects/{self.project_id}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {self._key}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
        )
        try:
            with urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("message", exc.reason)
            raise NeonApiError(
                f"{method} {path.split('?', maxsplit=1)[0]}: {exc.code} {detail}"
            ) from None
        except URLError as exc:
            raise NeonApiError(f"{method} {path.split('?', maxsplit=1)[0]}: {exc.reason}") from None

    def create_branch(self, name: str, expires_at: datetime) -> tuple[str, str, str]:
        """A branch of the default branch with a read-write compute: (id, database, role)."""
        created = self._call(
            "POST",
            "/branches",
            {
                "branch": {"name": name, "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "endpoints": [{"type": "read_write"}],
            },
        )
        parameters = created["connection_uris"][0]["connection_parameters"]
        return created["branch"]["id"], parameters["database"], parameters["role"]

    def connection_uri(self, branch_id: str, database: str, role: str, *, pooled: bool) -> str:
        query = urlencode(
            {
                "branch_id": branch_id,
                "database_name": database,
                "role_name": role,
                "pooled": str(pooled).lower(),
            }
        )
        return str(self._call("GET", f"/connection_uri?{query}")["uri"])

    def delete_branch(self, branch_id: str) -> None:
        self._call("DELETE", f"/branches/{branch_id}")


def unique_branch_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"ci-todo-{stamp}-{uuid.uuid4().hex[:8]}"


@contextmanager
def throwaway_branch(api: NeonApi) -> Iterator[Branch]:
    """Create a branch that expires in two hours; delete it however the block ends."""
    name = unique_branch_name()
    branch_id, database, role = api.create_branch(name, datetime.now(UTC) + BRANCH_LIFETIME)
    try:
        yield Branch(
            branch_id,
            name,
            database,
            role,
            api.connection_uri(branch_id, database, role, pooled=False),
            api.connection_uri(branch_id, database, role, pooled=True),
        )
    finally:
        api.delete_branch(branch_id)
