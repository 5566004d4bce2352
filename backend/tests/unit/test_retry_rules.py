"""Which failed connection attempts are retried: "not now" answers yes, wrong settings no.

The SQLSTATE decides when the driver gives one (psycopg 3 `sqlstate`, psycopg2
`pgcode`); otherwise the message does, as libpq reports it for both drivers
(`connection to server at ... failed: ERROR:  <text>`).
"""

from __future__ import annotations

import pytest

from src.database.resilience import is_transient

LIBPQ = 'connection to server at "ep-x.aws.neon.tech" (3.1.2.3), port 5432 failed: '


class DriverError(Exception):
    """A driver error as psycopg 3 (`sqlstate`) or psycopg2 (`pgcode`) builds it."""

    def __init__(self, message: str, sqlstate: str | None = None, pgcode: str | None = None):
        super().__init__(message)
        self.sqlstate, self.pgcode = sqlstate, pgcode


@pytest.mark.parametrize(
    "message",
    [
        "ERROR:  Couldn't connect to compute node",
        "ERROR:  Failed to connect to the compute node",
        "ERROR:  Failed to acquire permit to connect to the database. Too many database "
        "connection attempts are currently ongoing.",
        "FATAL:  sorry, too many clients already",
        "FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute",
        'FATAL:  too many connections for role "app"',
        "FATAL:  the database system is starting up",
        "Connection refused\n\tIs the server running on that host?",
    ],
)
def test_not_now_texts_are_retried(message: str) -> None:
    assert is_transient(DriverError(LIBPQ + message))


@pytest.mark.parametrize(
    "message",
    [
        'FATAL:  password authentication failed for user "app"',
        "FATAL:  SASL authentication failed",
        'FATAL:  database "nope" does not exist',
        "ERROR:  The endpoint ID is not specified. Either upgrade the Postgres client library",
        "ERROR:  connection is insecure (try using `sslmode=require`)",
        'invalid connection option "prepared_statement_cache_size"',
    ],
)
def test_wrong_settings_fail_at_once(message: str) -> None:
    assert not is_transient(DriverError(LIBPQ + message))


@pytest.mark.parametrize("attribute", ["sqlstate", "pgcode"])
@pytest.mark.parametrize("state", ["53300", "57P03", "57P01", "08006"])
def test_not_now_sqlstates_are_retried_whatever_the_text(attribute: str, state: str) -> None:
    assert is_transient(DriverError("some translated text", **{attribute: state}))


@pytest.mark.parametrize("attribute", ["sqlstate", "pgcode"])
@pytest.mark.parametrize("state", ["28P01", "28000", "3D000"])
def test_login_and_missing_database_sqlstates_win_over_the_text(attribute: str, state: str) -> None:
    message = "the database system is starting up"  # the code decides, not the words
    assert not is_transient(DriverError(message, **{attribute: state}))
