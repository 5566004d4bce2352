"""The rules behind read replicas that need no server: settings, tokens, positions, verdicts,
and the capacity warning's arithmetic for Neon's endpoints."""

from __future__ import annotations

import time

import psycopg2
import pytest
from sqlalchemy.exc import OperationalError

from src.config.replica_urls import ReplicaURLError
from src.database.capacity import Budget, capacity_warning, is_neon_pooler
from src.database.read_positions import (
    PINNED,
    PositionTokens,
    WritePositions,
    later,
    lsn_from_text,
    lsn_text,
)
from src.database.replica_health import Verdict, check_sql, verdict_of
from src.errors import DatabaseConnectionError, DatabaseURLError
from tests.conftest import settings_for

SECRET = "r3plica-S3cret,pw"  # a comma is allowed unencoded in a password
PRIMARY = "postgresql://alex:pw@ep-main-123.us-east-2.aws.neon.tech/neondb"
REPLICA = f"postgresql://alex:{SECRET}@ep-read-456.us-east-2.aws.neon.tech/neondb"
POOLED_REPLICA = "postgres://alex:pw@ep-read-456-pooler.us-east-2.aws.neon.tech/neondb"


def test_replica_urls_are_comma_separated_normalised_and_masked() -> None:
    settings = settings_for(PRIMARY, DATABASE_REPLICA_URLS=f" {REPLICA} ,{POOLED_REPLICA},")
    hosts = [url.host for url in settings.database_replica_urls]
    assert hosts == [
        "ep-read-456.us-east-2.aws.neon.tech",
        "ep-read-456-pooler.us-east-2.aws.neon.tech",
    ]
    assert settings.database_replica_urls[0].password == SECRET
    assert {url.query["sslmode"] for url in settings.database_replica_urls} == {"require"}
    assert SECRET not in str(settings.model_dump()) + repr(settings)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (f"{REPLICA},sqlite:///todo.db", "URL 2: a read replica is a PostgreSQL endpoint"),
        (
            f"{REPLICA},postgresql://alex:{SECRET}@/neondb",
            "URL 2: a PostgreSQL URL must name a host",
        ),
        (f"postgresql://alex:{SECRET}@h/db?password=x", "URL 1: a password belongs"),
        (f"{REPLICA}?sslmode=disable", "URL 1: Neon accepts TLS connections only"),
        (",".join([REPLICA] * 17), "at most 16 URLs"),
    ],
)
def test_a_bad_replica_url_is_refused_by_its_place_never_echoed(value: str, rule: str) -> None:
    with pytest.raises(ReplicaURLError) as raised:
        settings_for(PRIMARY, DATABASE_REPLICA_URLS=value)
    assert rule in str(raised.value)
    assert str(raised.value).startswith("DATABASE_REPLICA_URLS")
    assert SECRET not in str(raised.value)
    assert isinstance(raised.value, DatabaseURLError)


def test_replicas_need_a_postgresql_primary() -> None:
    with pytest.raises(ReplicaURLError, match="need a PostgreSQL DATABASE_URL"):
        settings_for("sqlite:///todo.db", DATABASE_REPLICA_URLS=REPLICA)


def test_the_variable_is_read_from_the_environment_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_REPLICA_URLS", f"{REPLICA},{POOLED_REPLICA}")
    assert len(settings_for(PRIMARY).database_replica_urls) == 2


def test_a_token_reads_back_only_as_issued() -> None:
    tokens, other = PositionTokens(b"k" * 32), PositionTokens(b"j" * 32)
    token = tokens.issue(lsn_from_text("16/B374D848"))
    assert tokens.read(token) == 0x16B374D848
    edits = [token[:-1], token + "A", token.replace(".", ":"), token.upper(), f" {token}"]
    edits += [f"{0x16B374D847:016x}{token[16:]}", other.issue(0x16B374D848), "", "\x00" * 39]
    assert [tokens.read(edit) for edit in edits] == [None] * len(edits)
    assert tokens.read(None) is None


def test_positions_move_forward_and_a_pin_yields_to_any_later_position() -> None:
    assert lsn_text(lsn_from_text("0/3018F70")) == "0/3018F70"
    assert later(None, 5) == 5
    assert later(7, 5) == 7
    assert later(PINNED, 5) == 5
    assert later(5, PINNED) == PINNED
    positions = WritePositions(max_lag_s=0.05)
    positions.record(1, 100)
    positions.record(None, 50)  # an account's write: todo reads wait for it too
    positions.record(2, PINNED)
    assert positions.required(1, todos=True) == 100
    assert positions.required(3, todos=True) == 50
    assert positions.required(None, todos=False) == 50
    assert positions.required(2, todos=True) == PINNED
    positions.record(3, 120)  # past user 2's lost position too
    assert positions.required(2, todos=True) == 120
    assert positions.lag_floor() is None
    time.sleep(0.1)
    assert positions.lag_floor() == 120


def test_the_check_inlines_nothing_but_formatted_numbers() -> None:
    sql = check_sql(0x16B374D848, 0x1600000000, 2.5)
    assert "'16/B374D848'" in sql
    assert "r.replay < '16/0' OR" in sql
    assert "interval '2500 milliseconds'" in sql
    assert "r.replay < '" not in check_sql(1, None, 1).split("lagging")[0]


def _driver_error(message: str, pgcode: str | None = None) -> OperationalError:
    original = psycopg2.OperationalError(message)
    if pgcode is not None:
        original = type("Coded", (psycopg2.OperationalError,), {"pgcode": pgcode})(message)
    return OperationalError("SELECT", {}, original)


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (
            _driver_error('invalid input syntax for type pg_lsn: "todo-replica: behind"'),
            Verdict.BEHIND,
        ),
        (
            _driver_error('invalid input syntax for type pg_lsn: "todo-replica: lagging"'),
            Verdict.LAGGING,
        ),
        (
            _driver_error('syntax for type pg_lsn: "todo-replica: not in recovery"'),
            Verdict.NOT_A_REPLICA,
        ),
        (
            _driver_error("canceling statement due to conflict with recovery", "40001"),
            Verdict.CONFLICT,
        ),
        (
            DatabaseConnectionError(
                "lost the connection to x: terminating connection due to conflict with recovery"
            ),
            Verdict.CONFLICT,
        ),
        (DatabaseConnectionError("cannot connect to x: connection refused"), Verdict.DOWN),
        (_driver_error("the database system is starting up", "57P03"), Verdict.DOWN),
        (_driver_error("cannot execute INSERT in a read-only transaction", "25006"), None),
        (ValueError("a bug"), None),
    ],
)
def test_a_replica_failure_is_read_for_what_it_means(
    error: BaseException, verdict: Verdict | None
) -> None:
    assert verdict_of(error) is verdict


def budget(processes: int, pool: int, max_connections: int, *, pooler: bool) -> Budget:
    endpoint = "postgresql+psycopg2://alex:***@ep-x-pooler.us-east-2.aws.neon.tech/neondb"
    return Budget(endpoint, pooler, processes, "DB_EXPECTED_PROCESSES", pool, 0, max_connections, 7)


def test_a_neon_pooler_is_warned_about_past_nine_tenths_of_max_connections() -> None:
    assert capacity_warning(budget(4, 23, 104, pooler=True)) is None  # 92 <= 93
    text = capacity_warning(budget(5, 20, 104, pooler=True))
    assert text is not None
    assert "= 100 connections" in text
    assert "runs at most 93 transactions at once (0.9 x max_connections 104)" in text
    assert "dropped after 120 s (query_wait_timeout)" in text
    assert "Fix: DB_POOL_SIZE=18 or less" in text
    assert "10000 clients" not in text
    huge = capacity_warning(budget(600, 20, 4000, pooler=True))
    assert huge is not None
    assert "past 10000 clients the pooler refuses connections" in huge


def test_a_direct_endpoint_keeps_its_reserved_slots() -> None:
    text = capacity_warning(budget(5, 20, 104, pooler=False))
    assert text is not None
    assert "which serves 97 (max_connections 104 - 7 reserved)" in text
    assert "Fix: DB_POOL_SIZE=19 or less" in text
    assert capacity_warning(budget(97, 1, 104, pooler=False)) is None
    many = capacity_warning(budget(200, 1, 104, pooler=False))
    assert many is not None
    assert "fewer than 98 processes with DB_POOL_SIZE=1" in many


def test_only_a_neon_pooler_host_counts_as_one() -> None:
    for url, pooled in [
        (POOLED_REPLICA, True),
        (REPLICA, False),
        ("postgresql://a@pooler.example/d", False),
    ]:
        assert (
            is_neon_pooler(
                settings_for(PRIMARY, DATABASE_REPLICA_URLS=url).database_replica_urls[0]
            )
            is pooled
        )
