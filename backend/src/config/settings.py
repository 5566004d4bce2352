"""Typed application settings, read once from the environment and `.env`.

`DATABASE_URL` is normalised here so the rest of the package sees exactly one
shape per backend: `postgresql+psycopg2://` (never the bare `postgresql://`,
which SQLAlchemy 2.1 maps to psycopg 3) or `sqlite://`; the asyncio engine
swaps in psycopg 3 itself, so both paths read the URL with libpq's rules. Every error message is
built from the parsed URL with its password masked, and URL errors are raised
as `DatabaseURLError`, which pydantic passes through instead of wrapping it
together with the raw input.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PositiveInt,
    SecretStr,
    field_serializer,
    model_validator,
)
from pydantic_settings import NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from src.config import replica_urls
from src.config.secret_keys import KEY_COMMAND, secret_key_problem
from src.config.sources import PastedSettings, origin_of
from src.errors import DatabaseURLError

logger = logging.getLogger(__name__)

DEFAULT_SQLITE_URL = "sqlite:///todo.db"
NEON_HOST_SUFFIX = ".neon.tech"

_POSTGRES_DRIVERS = {"postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"}
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}
_INSECURE_SSLMODES = {"disable", "allow", "prefer"}
# libpq reads these from the query string too, where no masking would find them.
_SECRET_QUERY_KEYS = {"password", "sslpassword"}
# RFC 3986 userinfo: unreserved and sub-delims characters, ":" and %XX escapes.
_USERINFO = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*")


def parse_database_url(raw: str) -> URL:
    """Validate and normalise a database URL; raise `DatabaseURLError` on any defect."""
    text = raw.strip()
    if not text:
        raise DatabaseURLError("must not be empty")
    if "\x00" in text:
        raise DatabaseURLError("must not contain NUL characters")
    _refuse_ambiguous_credentials(text)
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        # SQLAlchemy's message repeats the whole string, password included.
        raise DatabaseURLError(
            "is not a URL of the form scheme://user:password@host/database"
        ) from None
    if _SECRET_QUERY_KEYS & {key.lower() for key in url.query}:
        raise DatabaseURLError(
            "a password belongs in the user-information part, percent-encoded "
            "(scheme://user:password@host/database), not in the query string"
        )
    driver = url.drivername.lower()
    if driver in _SQLITE_DRIVERS:
        return url.set(drivername="sqlite")
    if driver not in _POSTGRES_DRIVERS:
        raise DatabaseURLError(
            f"unsupported scheme {url.drivername!r}; use postgresql://, postgres://, "
            "postgresql+psycopg2://, postgresql+psycopg:// or sqlite://"
        )
    if not url.host:
        raise DatabaseURLError("a PostgreSQL URL must name a host")
    if not url.database:
        raise DatabaseURLError("a PostgreSQL URL must name a database")
    url = url.set(drivername="postgresql+psycopg2")
    if url.host and url.host.lower().endswith(NEON_HOST_SUFFIX):
        sslmode = str(url.query.get("sslmode", "require"))
        if sslmode in _INSECURE_SSLMODES:
            raise DatabaseURLError(
                f"Neon accepts TLS connections only; sslmode={sslmode} is not allowed"
            )
        url = url.update_query_dict({"sslmode": sslmode})
    return url


def _refuse_ambiguous_credentials(text: str) -> None:
    """Refuse a user name or password that needs percent-encoding, without echoing it.

    Parsers split a URL at its first "@" (SQLAlchemy) or its first "/", "?" or
    "#" (libpq, urllib): an unencoded one in the password moves the rest of the
    password into the host or the database name, and from there into reprs,
    masked URLs and logs. The credentials are taken to end at the last "@".
    """
    scheme, separator, rest = text.partition("://")
    if not separator or scheme.lower().startswith("sqlite") or "@" not in rest:
        return
    if not _USERINFO.fullmatch(rest.rpartition("@")[0]):
        raise DatabaseURLError(
            "the user name or password contains a character that must be percent-encoded "
            "(such as @ / ? # % [ ] or a space or non-ASCII letter); encode the password "
            "with urllib.parse.quote(password, safe='')"
        )


def _to_url(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, URL):  # held to the same rules as a string
        value = value.render_as_string(hide_password=False)
    if isinstance(value, str):
        return parse_database_url(value) if value.strip() else None
    raise DatabaseURLError("must be a string")


def _generated_key(key: SecretStr | None) -> SecretStr | None:
    """A key set by hand must look generated (`secret_keys.py`), in every environment."""
    if key is not None and (problem := secret_key_problem(key.get_secret_value())):
        raise ValueError(problem)
    return key


class Settings(PastedSettings):
    """Everything the data layer can be told from outside; see `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        # pydantic-settings reads the file with its own reader before
        # `settings_customise_sources` swaps in ours (sources.py), which picks the
        # encoding from the byte-order mark; Latin-1 decodes any bytes, so that
        # first, discarded read can never fail where ours gives a clear error.
        env_file_encoding="latin-1",
        extra="ignore",
        hide_input_in_errors=True,
        frozen=True,
        arbitrary_types_allowed=True,
    )

    app_env: Literal["development", "test", "production"] = Field(
        default="development", alias="APP_ENV"
    )
    database_url: Annotated[URL | None, BeforeValidator(_to_url)] = Field(
        default=None, alias="DATABASE_URL"
    )
    application_name: str = Field(
        default="todo-data-layer", alias="DB_APPLICATION_NAME", max_length=63
    )
    # 0: no pool at all (NullPool), each session opens and closes its own connection.
    pool_size: int = Field(default=20, alias="DB_POOL_SIZE", ge=0, le=100)
    max_overflow: int = Field(default=0, alias="DB_MAX_OVERFLOW", ge=0, le=100)
    pool_recycle_s: PositiveInt = Field(default=240, alias="DB_POOL_RECYCLE_S", lt=300)
    pool_timeout_s: float = Field(default=10.0, alias="DB_POOL_TIMEOUT_S", gt=0, le=300)
    pool_ping_after_idle_s: float = Field(
        default=60.0, alias="DB_POOL_PING_AFTER_IDLE_S", ge=0, le=300
    )
    connect_timeout_s: PositiveInt = Field(default=10, alias="DB_CONNECT_TIMEOUT_S", le=120)
    connect_retry_budget_s: float = Field(
        default=15.0, alias="DB_CONNECT_RETRY_BUDGET_S", ge=0, le=300
    )
    # How long a migration may wait for its table locks on PostgreSQL before it gives up,
    # changing nothing (src.database.migration_locks); requests queue behind it meanwhile.
    migration_lock_timeout_s: float = Field(
        default=10.0, alias="DB_MIGRATION_LOCK_TIMEOUT_S", gt=0, le=600
    )
    echo: bool = Field(default=False, alias="DB_ECHO")
    # Signs pagination cursors; every process serving the same clients needs the same key.
    cursor_secret_key: Annotated[SecretStr | None, AfterValidator(_generated_key)] = Field(
        default=None, alias="CURSOR_SECRET_KEY", max_length=512
    )
    # Read replicas (src.database.replicas): comma-separated read-only endpoint URLs, and the
    # lag past which one is skipped. DB_EXPECTED_PROCESSES: processes sharing the endpoint,
    # for the connection-capacity check (src.database.capacity); unset: WEB_CONCURRENCY or 1.
    database_replica_urls: Annotated[
        tuple[URL, ...], NoDecode, BeforeValidator(replica_urls.parse_replica_urls)
    ] = Field(default=(), alias="DATABASE_REPLICA_URLS")
    replica_max_lag_s: float = Field(default=10.0, alias="DB_REPLICA_MAX_LAG_S", gt=0, le=3600)
    expected_processes: PositiveInt | None = Field(
        default=None, alias="DB_EXPECTED_PROCESSES", le=100_000
    )

    @field_serializer("database_url")
    def _masked(self, url: URL | None) -> str | None:
        # A URL is a tuple: dumped as is, it would carry the password in clear.
        return None if url is None else url.render_as_string(hide_password=True)

    @field_serializer("database_replica_urls")
    def _masked_replicas(self, urls: tuple[URL, ...]) -> list[str]:
        return [url.render_as_string(hide_password=True) for url in urls]

    @model_validator(mode="after")
    def _replicas_need_postgres(self) -> Settings:
        if self.database_replica_urls and not self.is_postgres:
            raise replica_urls.ReplicaURLError(
                None, "read replicas need a PostgreSQL DATABASE_URL (the primary)"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_a_database(self) -> Settings:
        if self.database_url is None and self.app_env == "production":
            raise DatabaseURLError(
                "is required when APP_ENV=production (the SQLite default is for development)"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_a_cursor_key(self) -> Settings:
        # A key made up per process would break paging across workers, and the public
        # development key lets any client write cursors: production names its own.
        if self.cursor_secret_key is None and self.app_env == "production":
            raise ValueError(
                "CURSOR_SECRET_KEY: is required when APP_ENV=production, the same for every "
                f"process (research.md, section 8); make one with: {KEY_COMMAND}"
            )
        return self

    @property
    def resolved_database_url(self) -> URL:
        """The URL to connect to: `DATABASE_URL`, or the embedded SQLite default."""
        return self.database_url or make_url(DEFAULT_SQLITE_URL)

    @property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.get_backend_name() == "postgresql"

    @property
    def pooled(self) -> bool:
        """Whether connections are kept between sessions (`DB_POOL_SIZE` above 0)."""
        return self.pool_size > 0


def describe_database_url(settings: Settings) -> str:
    """Which database, and where `DATABASE_URL` came from: the start-up line of every process.

    An exported variable beats `.env`; a newcomer whose shell still held one
    from an earlier step ran on another database without a hint. This says it.
    """
    if settings.database_url is None:
        return f"DATABASE_URL is not set; using the embedded SQLite database {DEFAULT_SQLITE_URL}"
    origin = origin_of(Settings, "DATABASE_URL") or "the code that built the settings"
    masked = settings.database_url.render_as_string(hide_password=True)
    return f"DATABASE_URL from {origin}: {masked}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; a rule broken is a one-line `SettingsError`."""
    settings = Settings()
    logger.info("%s", describe_database_url(settings))
    return settings
