"""Where settings are read from, read the way people actually paste them.

Two faults of pasted configuration used to change which database the process
used without a word:

- A variable exported with nothing in it (`export DATABASE_URL=`, a CI secret
  that was never filled in, a compose file's `DATABASE_URL: ${DATABASE_URL}`)
  counted as set, hid the value in `.env`, and selected the SQLite default.
  Here a variable that is empty or only blanks counts as unset, in the
  environment and in `.env` alike, so the next source decides.
- A `.env` saved with a byte-order mark (Notepad's "UTF-8 with BOM") lost its
  first line, because the mark became part of the first name
  (`\\ufeffAPP_ENV`); Windows PowerShell 5 writes UTF-16 with a mark, which
  could not be read at all. The file's encoding is taken from its mark (none:
  UTF-8), and a file that is not text in that encoding is refused with a
  `SettingsFileError` that names the file, instead of a decoding traceback.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from src.errors import SettingsError, SettingsFileError

# Longest marks first: UTF-32's little-endian mark begins with UTF-16's.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def without_blanks(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """The variables that say something: an empty or all-blank value counts as unset."""
    return {name: value for name, value in values.items() if value is None or value.strip()}


def encoding_of(path: Path) -> str:
    """The text encoding `path` declares by its byte-order mark; UTF-8 when it has none."""
    with path.open("rb") as file:
        start = file.read(4)
    for mark, encoding in _BYTE_ORDER_MARKS:
        if start.startswith(mark):
            return encoding
    return "utf-8"


class EnvironmentSource(EnvSettingsSource):
    """The process environment, where an empty or all-blank variable counts as unset."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return without_blanks(super()._load_env_vars())


class DotEnvFileSource(DotEnvSettingsSource):
    """`.env` files in the encoding their byte-order mark names, blank values unset."""

    def _read_env_file(self, file_path: Path) -> Mapping[str, str | None]:
        encoding = encoding_of(file_path)
        try:
            values = dotenv_values(file_path, encoding=encoding)
        except UnicodeDecodeError:
            raise SettingsFileError(
                f"{file_path} is not {encoding.upper().removesuffix('-SIG')} text; "
                "save it as UTF-8 (the values are not shown)"
            ) from None
        return without_blanks(
            parse_env_vars(values, self.case_sensitive, False, self.env_parse_none_str)
        )


class PastedSettings(BaseSettings):
    """Settings read in the usual order (arguments, environment, `.env`), as pasted (above).

    The package's `Settings` and `src.api`'s `TokenSettings` both derive from
    it, so every variable the package reads follows the same rules, and every
    rule broken is one `SettingsError` line naming the variables: never a
    pydantic traceback, and never the values. pydantic keeps each refused input
    in its error (`errors()[i]["input"]`, a password or a key among them); the
    `SettingsError` is raised outside the `except`, so it does not carry that
    error along as its context either.
    """

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            refusal = settings_error(exc)
        else:
            return
        raise refusal

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env_file = getattr(dotenv_settings, "env_file", settings_cls.model_config.get("env_file"))
        return (
            init_settings,
            EnvironmentSource(settings_cls),
            DotEnvFileSource(settings_cls, env_file=env_file),
            file_secret_settings,
        )


def settings_error(error: ValidationError) -> SettingsError:
    """One line naming each variable and the rule it breaks; values are never shown."""
    rules, names = [], []
    for detail in error.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in detail["loc"])
        rule = detail["msg"].removeprefix("Value error, ")
        names.append(name or rule.partition(":")[0])
        rules.append(f"{name}: {rule}" if name and not rule.startswith(f"{name}:") else rule)
    return SettingsError("; ".join(rules), settings=tuple(names))


def origin_of(settings_cls: type[BaseSettings], name: str) -> str | None:
    """Where `settings_cls()` takes the variable `name` from; None when nowhere (the default).

    For settings built with no arguments, as `get_settings` builds them, from a
    class that reads names case-insensitively and without a prefix, as the
    package's do; a value passed in code is not seen here.

    "the environment", or the `.env` file's absolute path: an exported variable
    beats the file, which a newcomer following two guides in one shell did not
    expect, so a process says at start-up which one it used.
    """
    if name.lower() in EnvironmentSource(settings_cls).env_vars:
        return "the environment"
    env_files = settings_cls.model_config.get("env_file")
    if env_files is None:
        return None
    paths = [env_files] if isinstance(env_files, (str, Path)) else list(env_files)
    found = None
    for path in map(Path, paths):  # a later file wins over an earlier one, as in pydantic-settings
        if path.expanduser().is_file():
            values = DotEnvFileSource(settings_cls, env_file=path).env_vars
            if name.lower() in values:
                found = str(path.expanduser().resolve())
    return found
