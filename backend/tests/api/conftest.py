"""The example service under Starlette's TestClient: SQLite and PostgreSQL, blocking and asyncio.

The service finds its database the way a deployed one does, through
`DATABASE_URL` and the pool variables, read at the first request; the app's
lifespan disposes its engines when the client closes. Every test starts from
an empty, migrated database: a copy of a migrated SQLite file, or a PostgreSQL
database of this module (as the least-privilege role) emptied after each test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient
from psycopg2 import sql
from sqlalchemy import text
from sqlalchemy.engine import URL

from src.config.settings import get_settings
from src.database.connection import build_engine, dispose_engine
from src.database.migrations import upgrade_to_head
from tests.conftest import KNOWN_PASSWORD, PostgresServer, grant, migrate, settings_for

TOKEN_SECRET = "Sn_BxxJby5jTBOcYV648RCUd8fYDRnsifRk4Ow3z53U"
PASSWORD = KNOWN_PASSWORD


@pytest.fixture(scope="session")
def api_postgres(postgres_server: PostgresServer) -> Iterator[tuple[URL, URL]]:
    """A migrated database of the API tests: (owner URL, application-role URL)."""
    owner_url = postgres_server.create_database()
    migrate(owner_url)
    role = f"todo_api_{uuid.uuid4().hex[:8]}"
    postgres_server.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    grant(owner_url, role)
    yield owner_url, owner_url.set(username=role)
    postgres_server.drop_role(owner_url, role)
    postgres_server.drop_database(owner_url)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "template.db"
    engine = build_engine(settings_for(f"sqlite:///{path}"))
    upgrade_to_head(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, migrated_sqlite: Path, tmp_path: Path
) -> Iterator[str]:
    """An empty migrated database for the service, and its URL."""
    if request.param == "sqlite":
        shutil.copy(migrated_sqlite, tmp_path / "todo.db")
        yield f"sqlite:///{tmp_path / 'todo.db'}"
        return
    owner_url, app_url = request.getfixturevalue("api_postgres")
    yield app_url.render_as_string(hide_password=False)
    engine = build_engine(settings_for(owner_url))
    with engine.begin() as connection:  # the database deletes their todos with them
        connection.execute(text('DELETE FROM "user"'))
    engine.dispose()


@pytest.fixture(params=["sync_app", "async_app"])
def service(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example module: `def` endpoints on `src.crud` or `async def` on `src.crud.aio`."""
    monkeypatch.setenv("EXAMPLE_TOKEN_SECRET", TOKEN_SECRET)
    return importlib.import_module(f"examples.{request.param}")


@pytest.fixture
def no_jwt_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `JWT_*` variable of the machine running the tests reaches `TokenSettings`."""
    for name in list(os.environ):
        if name.startswith("JWT_"):
            monkeypatch.delenv(name)


def serve(monkeypatch: pytest.MonkeyPatch, database_url: str, **variables: object) -> None:
    """Point the service at `database_url` (with pool variables) from its next request on."""
    dispose_engine()
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name, value in variables.items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()


@pytest.fixture
def client(
    service: ModuleType, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    serve(monkeypatch, database_url)
    with TestClient(service.app) as client:
        yield client
    get_settings.cache_clear()


def register(client: TestClient, email: str, password: str = PASSWORD) -> int:
    response = client.post("/users", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers for `email`."""
    response = client.post("/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    """Authorization headers presenting `token`."""
    return {"Authorization": f"Bearer {token}"}


def hand_signed(
    header: dict[str, object], claims: dict[str, object], hmac_key: bytes | None
) -> str:
    """A JWS made by hand: HMAC-SHA256 over the two parts with `hmac_key`, or unsigned (None).

    For the tokens an attacker writes and PyJWT refuses to make: `alg: none`,
    and HS256 "signed" with a public key's PEM (algorithm confusion).
    """

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    if hmac_key is None:
        return f"{signing_input}."
    signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def new_account(client: TestClient, email: str) -> dict[str, str]:
    register(client, email)
    return login(client, email)
