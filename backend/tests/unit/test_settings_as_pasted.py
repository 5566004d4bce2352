"""Settings as pasted: blank variables are unset, `.env` is read whole in any Unicode form.

What these stand for: a CI secret or compose variable that is set but empty
(`DATABASE_URL=`), a `.env` saved by Notepad with a UTF-8 byte-order mark, and
one written by Windows PowerShell 5 (`echo ... > .env`), which is UTF-16 with a
mark. Each used to change the database or the environment without a word.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from src.config.settings import DEFAULT_SQLITE_URL, Settings
from src.errors import SettingsError, SettingsFileError

PRODUCTION_ENV = (
    "APP_ENV=production\n"
    "DATABASE_URL=postgresql://app:s3cret-pw@from-dotenv.example/app\n"
    "CURSOR_SECRET_KEY=022d1ca4b87c6d26e22ca48613ca2bd8\n"
)


@pytest.fixture
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty working directory and an environment without any of the package's variables."""
    monkeypatch.chdir(tmp_path)
    for name in ("APP_ENV", "DATABASE_URL", "CURSOR_SECRET_KEY", "DB_POOL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize("blank", ["", " ", "\t", "  \n"])
def test_an_empty_environment_variable_does_not_hide_the_dotenv_value(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    (workdir / ".env").write_text(PRODUCTION_ENV)
    monkeypatch.setenv("DATABASE_URL", blank)
    monkeypatch.setenv("DB_POOL_SIZE", blank)
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.host == "from-dotenv.example"
    assert settings.pool_size == 20  # the default, not a refusal of ""


def test_an_empty_variable_everywhere_means_the_default(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / ".env").write_text("DATABASE_URL=\nDB_POOL_SIZE=   \n")
    monkeypatch.setenv("DATABASE_URL", "")
    settings = Settings()
    assert settings.database_url is None
    assert settings.resolved_database_url.render_as_string() == DEFAULT_SQLITE_URL
    assert settings.pool_size == 20


def test_a_set_environment_variable_still_beats_dotenv(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / ".env").write_text(PRODUCTION_ENV)
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@from-environment.example/app")
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.host == "from-environment.example"


@pytest.mark.parametrize(
    ("encoding", "mark"),
    [
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-32-le", codecs.BOM_UTF32_LE),
    ],
)
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_dotenv_with_a_byte_order_mark_is_read_whole(
    workdir: Path, encoding: str, mark: bytes, newline: str
) -> None:
    text = PRODUCTION_ENV.replace("\n", newline)
    (workdir / ".env").write_bytes(mark + text.encode(encoding))
    settings = Settings()
    assert settings.app_env == "production"  # the first line, where the mark sits
    assert settings.database_url is not None
    assert settings.database_url.host == "from-dotenv.example"
    assert settings.cursor_secret_key is not None


def test_production_guards_hold_when_the_first_line_carries_a_mark(workdir: Path) -> None:
    (workdir / ".env").write_bytes(codecs.BOM_UTF8 + b"APP_ENV=production\n")
    with pytest.raises(SettingsError, match="CURSOR_SECRET_KEY: is required"):
        Settings(DATABASE_URL="postgresql://app@db.example/app")


@pytest.mark.parametrize(
    "content",
    [
        b"APP_ENV=production\nCURSOR_SECRET_KEY=caf\xe9-not-utf8\n",  # Latin-1
        codecs.BOM_UTF16_LE + b"A\x00=\x00\x00\xd8",  # a lone surrogate
    ],
)
def test_a_dotenv_that_is_not_text_is_refused_by_name_without_its_values(
    workdir: Path, content: bytes
) -> None:
    (workdir / ".env").write_bytes(content)
    with pytest.raises(SettingsFileError, match=r"\.env is not UTF-(8|16) text") as raised:
        Settings()
    assert "caf" not in str(raised.value)
