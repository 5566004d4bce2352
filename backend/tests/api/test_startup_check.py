"""A service refuses to start on a database that is not at the package's head revision.

What a newcomer met: pointed at a new database, the example service started
and its first `POST /users` answered 500 (`relation "user" does not exist`).
Now the lifespan compares the database's revision with the package's head
before the first request and stops the server with one line naming the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import URL

from src.config.settings import get_settings
from src.database.connection import build_engine
from src.database.migrations import upgrade_to
from src.database.revision_check import head_revision
from src.errors import SchemaRevisionError
from tests.api.conftest import TOKEN_SECRET, serve
from tests.conftest import settings_for
from tests.processes import run_python
from tests.standins.neon_local import free_port

SECRET = "pw-that-must-not-leak"


@pytest.fixture
def start(service: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Start the service's lifespan on `url` (as uvicorn would), then stop it."""
    clients: list[TestClient] = []

    def run(url: str) -> None:
        serve(monkeypatch, url)
        client = TestClient(service.app)
        client.__enter__()  # runs the lifespan's start-up; raises what stops the server
        clients.append(client)

    yield run
    for client in clients:
        client.__exit__(None, None, None)
    get_settings.cache_clear()


def with_secret(url: URL) -> str:
    return url.set(password=SECRET).render_as_string(hide_password=False)


def test_a_database_never_migrated_stops_the_service_naming_the_command(
    start: Callable[[str], None], fresh_postgres: Callable[[], URL], tmp_path: Path
) -> None:
    for url in (with_secret(fresh_postgres()), f"sqlite:///{tmp_path / 'new.db'}"):
        with pytest.raises(SchemaRevisionError) as refused:
            start(url)
        message = str(refused.value)
        assert "never migrated" in message
        assert "alembic upgrade head" in message
        assert SECRET not in message
        assert "\n" not in message  # one line


def test_a_database_a_release_behind_is_refused_naming_both_revisions(
    start: Callable[[str], None], fresh_postgres: Callable[[], URL]
) -> None:
    url = fresh_postgres()
    engine = build_engine(settings_for(url))
    upgrade_to("0005", engine)
    engine.dispose()
    with pytest.raises(
        SchemaRevisionError, match=f"at revision 0005, older than .* {head_revision()}"
    ):
        start(with_secret(url))


def test_a_database_a_release_ahead_is_refused_as_unknown(
    start: Callable[[str], None], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ahead.db'}"
    engine = build_engine(settings_for(url))
    upgrade_to("head", engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaRevisionError, match="9999, which this package does not know"):
        start(url)


def test_a_database_at_head_starts_and_says_so(
    start: Callable[[str], None], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="src.api.lifespan"):
        start(database_url)
    assert f"at revision {head_revision()}" in caplog.text


def test_an_unreachable_database_does_not_stop_the_service(
    start: Callable[[str], None], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compute still waking must not crash-loop the service: requests answer 503 meanwhile."""
    monkeypatch.setenv("DB_CONNECT_RETRY_BUDGET_S", "0")
    url = URL.create("postgresql", "app", SECRET, "127.0.0.1", free_port(), "todo")
    with caplog.at_level(logging.WARNING, logger="src.api.lifespan"):
        start(url.render_as_string(hide_password=False))
    assert "schema revision not checked" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("variables", "reason", "lines"),
    [
        ({}, "has no schema (it was never migrated): run `cd backend && DATABASE_URL=", 2),
        ({"APP_ENV": "production"}, "CURSOR_SECRET_KEY: is required when APP_ENV=production", 2),
        ({"EXAMPLE_TOKEN_SECRET": ""}, "EXAMPLE_TOKEN_SECRET: must be set", 1),
        (
            {"EXAMPLE_TOKEN_SECRET": "changeme-changeme-changeme-changeme"},
            "EXAMPLE_TOKEN_SECRET: does not look generated",
            1,
        ),
        ({"JWT_LEEWAY_S": "abc"}, "JWT_LEEWAY_S: Input should be a valid number", 1),
    ],
    ids=["unmigrated", "production-without-key", "no-token-key", "written-token-key", "jwt"],
)
def test_under_uvicorn_a_refusal_is_one_line_without_a_traceback(
    tmp_path: Path, variables: dict[str, str], reason: str, lines: int
) -> None:
    """What a newcomer runs (README): `python -m examples.serve`, 2 workers, on a new database.

    uvicorn logs a failed start-up with Starlette's whole traceback, and an app
    that fails to build with one per worker; the lifespan cuts the first to its
    last line, the launcher refuses the second before any worker starts (one
    line). The process ends by itself, with uvicorn's start-up failure status 3.
    """
    settings = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}",
        "EXAMPLE_TOKEN_SECRET": TOKEN_SECRET,
        **variables,
    }
    command = ["-m", "examples.serve", "examples.sync_app:app", "--workers", "2"]
    result = run_python([*command, "--port", str(free_port())], settings, cwd=tmp_path, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "Traceback" not in output
    refusals = [line for line in output.splitlines() if "refusing to start: " in line]
    assert len(refusals) == lines, output  # one per worker, or one before any worker
    assert all(reason in line for line in refusals), refusals
    if not variables:  # the settings were read: the origin of the URL was said first
        assert f"DATABASE_URL from the environment: sqlite:///{tmp_path / 'new.db'}" in output


def test_the_launcher_reads_the_key_from_an_env_file_as_uvicorn_does(tmp_path: Path) -> None:
    """`--env-file` is uvicorn's: the launcher's own import of the app must see it too.

    The key is only in the file; the database is new, so the workers (which got
    past the key) refuse at the schema check and the launcher ends by itself.
    """
    env_file = tmp_path / "service.env"
    env_file.write_text(f"EXAMPLE_TOKEN_SECRET={TOKEN_SECRET}\n")
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}  # no key in the environment
    command = ["-m", "examples.serve", "examples.sync_app:app", "--env-file", str(env_file)]
    result = run_python([*command, "--port", str(free_port())], settings, cwd=tmp_path, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "EXAMPLE_TOKEN_SECRET" not in output
    assert "refusing to start: the database at sqlite:" in output
