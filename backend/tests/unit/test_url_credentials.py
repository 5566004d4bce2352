"""A DATABASE_URL whose credentials need percent-encoding is refused without echoing them.

SQLAlchemy splits a URL at the first "@"; libpq and urllib end the host part
at the first "/", "?" or "#". A password holding one of these, unencoded, is
read differently by each, and the leftover part of it lands in the host or
database name, which is shown in reprs, masked URLs and logs.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from src.config.settings import parse_database_url
from src.errors import DatabaseURLError
from tests.conftest import settings_for

NEEDS_ENCODING = ["@", "/", "?", "#", "%", "%4", "[", "]", " ", '"', "\\", "^", "`", "{", "|", "é"]
ALLOWED_AS_IS = [":", "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=", "-", ".", "_", "~"]


def password_with(character: str) -> str:
    return f"Xq7{character}Zk9"


@pytest.mark.parametrize("character", NEEDS_ENCODING)
@pytest.mark.parametrize(
    "template",
    ["postgresql://app:{p}@db.example.com/todo", "postgres://app:{p}@ep-x.neon.tech/todo?a=b"],
)
def test_an_unencoded_special_character_in_the_password_is_refused_without_echo(
    character: str, template: str
) -> None:
    raw = template.format(p=password_with(character))
    for attempt in (lambda: parse_database_url(raw), lambda: settings_for(raw)):
        with pytest.raises(DatabaseURLError) as caught:
            attempt()
        message = f"{caught.value} {caught.value!r} {caught.value.rule}"
        assert "percent-encoded" in message
        assert "Xq7" not in message
        assert "Zk9" not in message


@pytest.mark.parametrize("character", NEEDS_ENCODING + ALLOWED_AS_IS)
def test_the_percent_encoded_password_is_accepted_and_read_back_exactly(character: str) -> None:
    password = password_with(character)
    url = parse_database_url(f"postgresql://app:{quote(password, safe='')}@db.example.com/todo")
    assert (url.username, url.password, url.host, url.database) == (
        "app",
        password,
        "db.example.com",
        "todo",
    )


@pytest.mark.parametrize("character", ALLOWED_AS_IS)
def test_characters_that_need_no_encoding_are_accepted_as_they_are(character: str) -> None:
    url = parse_database_url(f"postgresql://app:{password_with(character)}@db.example.com/todo")
    assert (url.password, url.host) == (password_with(character), "db.example.com")


def test_an_at_sign_in_the_user_name_is_refused_too() -> None:
    with pytest.raises(DatabaseURLError, match="percent-encoded"):
        parse_database_url("postgresql://ann@corp:secret@db.example.com/todo")


def test_sqlite_paths_may_hold_an_at_sign() -> None:
    assert parse_database_url("sqlite:///data/todo@2026.db").database == "data/todo@2026.db"


@pytest.mark.parametrize(
    "query",
    [
        "password=hunter2SECRET",
        "sslpassword=hunter2SECRET",
        "PASSWORD=hunter2SECRET",
        "sslmode=require&password=hunter2SECRET",
        "password=hunter2SECRET&application_name=x",
    ],
)
def test_a_password_in_the_query_string_is_refused_without_echo(query: str) -> None:
    """libpq reads `password` from the query too, where masking the URL would not hide it."""
    raw = f"postgresql://app@db.example.com/neondb?{query}"
    with pytest.raises(DatabaseURLError, match="not in the query string") as caught:
        parse_database_url(raw)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(DatabaseURLError) as through_settings:
        settings_for(raw)
    assert "hunter2" not in repr(through_settings.value)
