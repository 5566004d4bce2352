"""At start-up a process says which database it uses and where that came from, or one line why not.

Two things a newcomer met: a `DATABASE_URL` exported in an earlier step
silently beat the one in `.env`, and production without `CURSOR_SECRET_KEY`
printed a 30-line traceback where every other configuration fault printed one
line. `get_settings` (every process reads its settings there) now logs the
URL's origin and raises one-line `SettingsError`s; the main job prints them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from src.config.settings import get_settings
from src.errors import SettingsError
from tests.processes import run_python

SECRET = "s3cret-in-the-url"


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A directory with no `.env` and an environment without the package's variables."""
    for name in list(os.environ):
        if name.startswith(("DATABASE_", "DB_", "APP_ENV", "CURSOR_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def started(caplog: pytest.LogCaptureFixture) -> str:
    with caplog.at_level(logging.INFO, logger="src.config.settings"):
        get_settings()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "src.config.settings"]
    return line


def test_the_url_from_the_environment_is_named_as_such_and_masked(
    clean: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{SECRET}@db.internal/todo")
    line = started(caplog)
    assert (
        line == "DATABASE_URL from the environment: postgresql+psycopg2://app:***@db.internal/todo"
    )


def test_the_url_from_a_dotenv_file_names_that_file(
    clean: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (clean / ".env").write_text(f"DATABASE_URL=postgresql://app:{SECRET}@db.internal/todo\n")
    line = started(caplog)
    assert (
        line
        == f"DATABASE_URL from {clean / '.env'}: postgresql+psycopg2://app:***@db.internal/todo"
    )


def test_an_exported_url_beats_the_dotenv_file_and_the_line_says_so(
    clean: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The quickstart's trap: the shell still held the local URL when `.env` named Neon's."""
    (clean / ".env").write_text("DATABASE_URL=postgresql://app@neon.example/neondb\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/todo_dev")
    line = started(caplog)
    assert line.startswith("DATABASE_URL from the environment: ")
    assert "todo_dev" in line
    assert get_settings().resolved_database_url.database == "todo_dev"


def test_an_exported_blank_url_does_not_hide_the_dotenv_file(
    clean: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (clean / ".env").write_text("DATABASE_URL=sqlite:///from-file.db\n")
    monkeypatch.setenv("DATABASE_URL", "  ")
    assert started(caplog) == f"DATABASE_URL from {clean / '.env'}: sqlite:///from-file.db"


def test_no_url_anywhere_names_the_embedded_default(
    clean: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert started(caplog) == (
        "DATABASE_URL is not set; using the embedded SQLite database sqlite:///todo.db"
    )


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"APP_ENV": "production", "DATABASE_URL": "sqlite:///x.db"},
            "CURSOR_SECRET_KEY: is required",
        ),
        ({"DB_POOL_SIZE": "-1"}, "DB_POOL_SIZE: Input should be greater than or equal to 0"),
        ({"DB_POOL_SIZE": "many", "DB_ECHO": "perhaps"}, "DB_POOL_SIZE: "),
        (
            {"CURSOR_SECRET_KEY": "please-change-me-to-something-secret"},
            "CURSOR_SECRET_KEY: does not",
        ),
    ],
)
def test_a_setting_that_breaks_a_rule_is_one_line_naming_it_and_never_its_value(
    clean: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        get_settings()
    message = str(refused.value)
    assert message.startswith(expected)
    assert "\n" not in message
    for name, value in variables.items():
        if name not in {"APP_ENV", "DATABASE_URL"}:
            assert value not in message, name
    assert refused.value.__cause__ is None
    assert refused.value.__context__ is None  # pydantic's error, which keeps the input, is gone


@pytest.mark.parametrize(
    "variables",
    [
        {"APP_ENV": "production"},  # no key (the newcomer's 30-line traceback)
        {"APP_ENV": "production", "CURSOR_SECRET_KEY": "<python -c 'import secrets'>"},
        {"DB_POOL_SIZE": "-3"},
        {"DATABASE_URL": "mysql://u@h/db"},
    ],
)
def test_the_main_job_prints_a_configuration_fault_as_one_line_and_exits_1(
    clean: Path, variables: dict[str, str]
) -> None:
    settings = {"DATABASE_URL": f"sqlite:///{clean / 'demo.db'}", **variables}
    result = run_python(["-m", "src.demo"], settings, cwd=clean)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (clean / "demo.db").exists()  # refused before anything was written


def test_the_main_jobs_log_lines_never_land_inside_its_table(clean: Path) -> None:
    """Logs (stderr) and the table (stdout) share a terminal: unbuffered, as a terminal shows."""
    database = {"DATABASE_URL": f"sqlite:///{clean / 'demo.db'}"}
    result = run_python(["-u", "-m", "src.demo"], database, cwd=clean, merge_output=True)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("user "))
    rows = lines[header + 1 : header + 4]
    assert [row.split()[0] for row in rows] == [
        "ada@example.com",
        "grace@example.com",
        "linus@example.com",
    ], result.stdout
    assert lines[header + 4 :] == []  # nothing after the table either
