"""DATABASE_URL and the pool knobs: what is accepted, how it is normalised, what is refused."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from src.config import settings as settings_module
from src.config.settings import DEFAULT_SQLITE_URL, Settings, get_settings
from src.errors import DatabaseURLError, SettingsError
from tests.conftest import settings_for

SECRET = "n3on-S3cret-pw"
NEON_POOLER = (
    f"postgresql://alex:{SECRET}@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech"
    "/neondb?sslmode=require&channel_binding=require"
)


def test_neon_url_is_accepted_and_pinned_to_psycopg2() -> None:
    url = settings_for(NEON_POOLER).resolved_database_url
    assert url.drivername == "postgresql+psycopg2"
    assert url.host == "ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech"
    assert url.query == {"sslmode": "require", "channel_binding": "require"}


def test_neon_url_without_sslmode_gets_require() -> None:
    url = settings_for(f"postgresql://alex:{SECRET}@ep-x.eu-central-1.aws.neon.tech/db")
    assert url.resolved_database_url.query["sslmode"] == "require"


def test_neon_url_keeps_a_stricter_sslmode() -> None:
    raw = f"postgresql://alex:{SECRET}@ep-x.aws.neon.tech/db?sslmode=verify-full"
    assert settings_for(raw).resolved_database_url.query["sslmode"] == "verify-full"


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_neon_url_refuses_sslmodes_that_allow_plaintext(mode: str) -> None:
    with pytest.raises(DatabaseURLError, match="TLS"):
        settings_for(f"postgresql://alex:{SECRET}@ep-x.aws.neon.tech/db?sslmode={mode}")


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://u:p@db.local:5432/app",
        "postgresql://u:p@db.local:5432/app",
        "postgresql+psycopg2://u:p@db.local:5432/app",
    ],
)
def test_postgres_spellings_normalise_to_one_driver(raw: str) -> None:
    url = settings_for(raw).resolved_database_url
    assert url.render_as_string(hide_password=False) == (
        "postgresql+psycopg2://u:p@db.local:5432/app"
    )


def test_local_postgres_gets_no_sslmode_added() -> None:
    assert "sslmode" not in settings_for("postgresql://u@127.0.0.1/app").resolved_database_url.query


@pytest.mark.parametrize(
    ("raw", "database"), [("sqlite://", None), ("sqlite:///data/todo.db", "data/todo.db")]
)
def test_sqlite_urls_are_accepted(raw: str, database: str | None) -> None:
    settings = settings_for(raw)
    assert settings.resolved_database_url.database == database
    assert not settings.is_postgres


def test_unset_url_means_the_embedded_sqlite_default_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("APP_ENV", raising=False)
    get_settings.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger=settings_module.__name__):
            settings = get_settings()
    finally:
        get_settings.cache_clear()
    assert str(settings.resolved_database_url) == DEFAULT_SQLITE_URL
    assert [r.getMessage() for r in caplog.records] == [
        f"DATABASE_URL is not set; using the embedded SQLite database {DEFAULT_SQLITE_URL}"
    ]


def test_production_refuses_to_run_without_a_database_url() -> None:
    with pytest.raises(DatabaseURLError, match=r"DATABASE_URL: is required when APP_ENV=prod"):
        Settings(_env_file=None, APP_ENV="production")


def test_production_refuses_to_run_without_a_cursor_key() -> None:
    """A key made up per process would break paging across workers; a public one is forgeable."""
    with pytest.raises(SettingsError, match="CURSOR_SECRET_KEY: is required when APP_ENV=prod"):
        Settings(_env_file=None, APP_ENV="production", DATABASE_URL="postgresql://a@h/db")
    key = "qNdKAQrR0qoiFMZavP9gz7QKhnfdPTuAZzwx7_6KZGQ"
    assert Settings(_env_file=None, APP_ENV="production", DATABASE_URL="postgresql://a@h/db",
                    CURSOR_SECRET_KEY=key).cursor_secret_key is not None  # fmt: skip


@pytest.mark.parametrize("key", ["", "short-but-secret", "s" * 513])
def test_a_cursor_key_of_the_wrong_length_is_refused_without_echo(key: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(_env_file=None, CURSOR_SECRET_KEY=key)
    assert refused.value.settings == ("CURSOR_SECRET_KEY",)
    if key:
        assert key not in str(refused.value)
        assert key not in repr(refused.value)


def test_the_cursor_key_never_shows() -> None:
    key = "HWBwlbcckMKH38evgJbzizH-Tgncb6k5MGMyKNpvO_U"
    settings = Settings(_env_file=None, CURSOR_SECRET_KEY=key)
    for face in (
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        settings.model_dump_json(),
    ):
        assert key not in face


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (f"mysql://root:{SECRET}@db/app", "unsupported scheme 'mysql'"),
        (f"postgresql://alex:{SECRET}@/app", "must name a host"),
        (f"postgresql://alex:{SECRET}@db.local", "must name a database"),
        (f"not a url {SECRET}", "is not a URL"),
        (f"://alex:{SECRET}@", "is not a URL"),
        ("   ", None),
        (f"postgresql://alex:{SECRET}@db/app\x00", "NUL"),
    ],
)
def test_invalid_url_names_the_setting_and_rule_but_never_the_password(
    raw: str, rule: str | None
) -> None:
    if rule is None:  # blank counts as unset: the SQLite default
        assert not settings_for(raw).is_postgres
        return
    with pytest.raises(DatabaseURLError) as caught:
        settings_for(raw)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL: ")
    assert rule in message
    for text in (message, repr(caught.value), repr(caught.value.args)):
        assert SECRET not in text
    assert caught.value.__cause__ is None  # SQLAlchemy's own error repeats the URL


def test_settings_repr_and_str_mask_the_password() -> None:
    settings = settings_for(NEON_POOLER)
    for text in (repr(settings), str(settings), str(settings.model_dump())):
        assert SECRET not in text
    assert "***" in repr(settings)


def test_pool_knobs_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DB_POOL_SIZE": "7",
        "DB_MAX_OVERFLOW": "3",
        "DB_POOL_RECYCLE_S": "120",
        "DB_POOL_TIMEOUT_S": "2.5",
        "DB_CONNECT_TIMEOUT_S": "4",
        "DB_ECHO": "true",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert (settings.pool_size, settings.max_overflow, settings.pool_recycle_s) == (7, 3, 120)
    assert (settings.pool_timeout_s, settings.connect_timeout_s, settings.echo) == (2.5, 4, True)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_POOL_SIZE", "-1"),
        ("DB_POOL_SIZE", "many"),
        ("DB_MAX_OVERFLOW", "-1"),
        ("DB_POOL_RECYCLE_S", "300"),  # Neon drops idle connections at 5 minutes
        ("DB_POOL_TIMEOUT_S", "0"),
        ("DB_CONNECT_TIMEOUT_S", "0"),
    ],
)
def test_out_of_range_knob_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        Settings(_env_file=None)
    assert caught.value.settings == (name,)


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DATABASE_URL=postgres://u:p@from-dotenv/app\n")
    assert Settings().resolved_database_url.host == "from-dotenv"


def test_importing_the_package_opens_no_connection() -> None:
    """Import everything with a URL that cannot connect: nothing may try."""
    code = "import src.models, src.crud, src.database.connection, src.demo"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"DATABASE_URL": "postgresql://u:p@127.0.0.1:1/none", "PATH": ""},
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
