"""Every signing key must look generated: what the documented commands print passes, text fails.

A newcomer pasted the quickstart's placeholder `CURSOR_SECRET_KEY=<python -c
"...">` into `.env` as written and production accepted it. One rule
(`src.config.secret_keys`) now holds `CURSOR_SECRET_KEY`, `JWT_SECRET` and
`EXAMPLE_TOKEN_SECRET`; these tests take the placeholders and the key
commands from the documents themselves, so a new placeholder or command is
tried as soon as it is written.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import string
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from examples.auth import token_settings
from src.api import TokenConfigError, TokenSettings
from src.config.secret_keys import KEY_COMMAND, secret_key_problem
from src.config.settings import Settings
from src.errors import SettingsError

REPOSITORY = Path(__file__).resolve().parents[3]
DOCUMENTS = [
    REPOSITORY / "README.md",
    REPOSITORY / ".env.example",
    *sorted((REPOSITORY / "specs/001-db-schema").glob("*.md")),
]
# The key commands as the documents write them: python -c "...secrets.token_xxx(N)..."
KEY_COMMANDS = re.compile(r"""python3? -c (["'])import secrets; print\(secrets\.\w+\(\d+\)\)\1""")
# A value given in a document for a key setting: CURSOR_SECRET_KEY=<...> and its kind.
DOCUMENTED_VALUES = re.compile(
    r"^\s*(?:export )?(?:CURSOR_SECRET_KEY|JWT_SECRET|EXAMPLE_TOKEN_SECRET)=(.+)$", re.MULTILINE
)
WRITTEN = [
    '<python -c "import secrets; print(secrets.token_urlsafe(32))">',  # pasted as written
    "changeme-changeme-changeme-changeme",
    "0123456789abcdef0123456789abcdef",
    "your-secret-key-here-make-it-long-and-random",
    "my-todo-app-cursor-signing-key-for-production",
    "REPLACE_WITH_A_LONG_RANDOM_STRING_OF_32_CHARS",
    "ChangeMeToSomethingLongAndRandom1",
    "correct-horse-battery-staple-correct-horse",
    "todo-app-secret-for-jwt-signing-hs256",
    "qwertyuiopasdfghjklzxcvbnmqwertyuiop",
    "ab12ab12ab12ab12ab12ab12ab12ab12",
    "a-long-random-password-a-long-random-password",
    "<your-32-character-secret-goes-here>",
    "$(openssl rand -base64 32)",
]
GENERATORS: dict[str, Callable[[], str]] = {
    "token_urlsafe(24)": lambda: secrets.token_urlsafe(24),
    "token_urlsafe(32)": lambda: secrets.token_urlsafe(32),
    "token_urlsafe(64)": lambda: secrets.token_urlsafe(64),
    "token_hex(16)": lambda: secrets.token_hex(16),
    "token_hex(32)": lambda: secrets.token_hex(32),
    "openssl rand -hex 16, upper case": lambda: secrets.token_hex(16).upper(),
    "openssl rand -base64 32": lambda: base64.b64encode(os.urandom(32)).decode(),
    "pwgen -sy 40 (printable ASCII)": lambda: "".join(
        secrets.choice(string.ascii_letters + string.digits + string.punctuation) for _ in range(40)
    ),
    "Django's get_random_secret_key": lambda: "".join(
        secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)") for _ in range(50)
    ),
}


@pytest.fixture(autouse=True)
def no_inherited_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the values a test passes: a developer's exported JWT_* or DB_* must not decide."""
    for name in list(os.environ):
        if name.startswith(("JWT_", "DB_", "DATABASE_", "CURSOR_", "APP_ENV", "EXAMPLE_")):
            monkeypatch.delenv(name)


def documented_placeholders() -> list[str]:
    values = []
    for document in DOCUMENTS:
        for value in DOCUMENTED_VALUES.findall(document.read_text()):
            if not value.strip().startswith("$("):  # a command the shell runs, not a value
                values.append(value.strip())
    return values


def test_the_documents_give_key_commands() -> None:
    commands = [m.group(0) for d in DOCUMENTS for m in KEY_COMMANDS.finditer(d.read_text())]
    assert len(commands) >= 3


@pytest.mark.parametrize(
    "command",
    sorted({m.group(0) for d in DOCUMENTS for m in KEY_COMMANDS.finditer(d.read_text())}),
)
def test_every_documented_key_command_prints_a_key_that_is_accepted(command: str) -> None:
    for _ in range(3):
        printed = subprocess.run(
            ["sh", "-c", command],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert secret_key_problem(printed) is None, printed


@pytest.mark.parametrize("generator", GENERATORS, ids=list(GENERATORS))
def test_keys_from_common_generators_are_accepted(generator: str) -> None:
    """Random keys hold chance patterns ("dead" in hex, "tEHC" in base64); none may refuse one.

    56,000 keys (8,000 per generator, research.md section 27) and 4,000 of printable
    ASCII or Django's alphabet were never refused; this samples 40 per generator per run.
    """
    for _ in range(40):
        key = GENERATORS[generator]()
        assert secret_key_problem(key) is None, key


@pytest.mark.parametrize("value", [*WRITTEN, *documented_placeholders()])
def test_written_keys_and_documented_placeholders_are_refused_for_every_key_setting(
    value: str,
) -> None:
    refusals: list[tuple[str, Exception]] = []
    with pytest.raises(SettingsError) as cursor:
        Settings(_env_file=None, CURSOR_SECRET_KEY=value)
    refusals.append(("CURSOR_SECRET_KEY", cursor.value))
    assert cursor.value.settings == ("CURSOR_SECRET_KEY",)
    with pytest.raises(TokenConfigError) as jwt:
        TokenSettings(secret=SecretStr(value), audience="todo", _env_file=None)
    refusals.append(("JWT_SECRET", jwt.value))
    with pytest.raises(TokenConfigError) as example:
        token_settings(value)
    refusals.append(("EXAMPLE_TOKEN_SECRET", example.value))
    for setting, refusal in refusals:
        message = str(refusal)
        assert setting in message
        assert "make one with: python3 -c" in message or "at least" in message, message
        assert value not in message
        assert value not in repr(refusal)


def test_a_key_too_short_says_the_length_and_the_command() -> None:
    problem = secret_key_problem(secrets.token_urlsafe(16))  # 22 characters
    assert problem == f"must be at least 32 characters; make one with: {KEY_COMMAND}"
