"""Whether a replica may serve a read: its check, its faults, and its time out.

The check travels in front of the read, in the same Query message (one
round trip): a `SELECT` that fails with a marker when the replica may not
serve it, which ends the implicit transaction before the read runs:

- `todo-replica: behind`: it has not replayed the reader's position yet.
  Nothing is wrong with it; this read goes to the primary.
- `todo-replica: lagging`: it has not replayed where the primary was
  `max_lag_s` ago (as this process last saw the primary), or it has
  received WAL it has not applied for longer than that (Neon's own lag
  measure). It is skipped for a while.
- `todo-replica: not in recovery`: the URL names a primary, not a replica.

A marker is raised by casting its text to `pg_lsn`; the CASE is not constant,
so PostgreSQL cannot fold the cast (and fail) while planning.

Faults (a refused or dropped connection, a server starting or stopping) put
the replica out for a backoff that doubles up to `BACKOFF_MAX_S`; when it
runs out, one read tries the replica again while the others keep to the
primary. Recovery conflicts (40001, or the FATAL "conflict with recovery"),
a column or table the replica does not have yet (a migration it has not
replayed) and a full replica pool send that one read to the primary and mark
nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from enum import Enum

from sqlalchemy.exc import DBAPIError

from src.database.read_positions import lsn_text
from src.database.resilience import sqlstate_of
from src.errors import DatabaseConnectionError, PoolExhaustedError

logger = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0
_MARKER = "todo-replica: "
# A column or table the statement names is missing: on a replica, a migration the primary has
# committed that the replica has not replayed yet (a search needs `todo.search_head`, from
# 0009). The primary answers; a statement that is wrong fails there the same way and is raised.
_SCHEMA_NOT_THERE = {"42703", "42P01"}


class Verdict(Enum):
    """Why a replica did not serve a read; what follows for the replica."""

    BEHIND = "behind"  # not caught up with this reader: nothing is marked
    LAGGING = "lagging"  # beyond the lag bound: skipped for a while
    NOT_A_REPLICA = "not in recovery"  # misconfigured: skipped for the longest while
    CONFLICT = "conflict"  # a recovery conflict cancelled the read: nothing is marked
    SCHEMA = "behind the schema"  # a migration not replayed yet: nothing is marked
    BUSY = "busy"  # its pool is exhausted: nothing is marked
    DOWN = "down"  # unreachable, refusing, starting, stopping: skipped for a while


def check_sql(required: int, floor: int | None, max_lag_s: float) -> str:
    """The check sent ahead of a read; inlines only numbers formatted here."""
    lag_ms = max(1, round(max_lag_s * 1000))
    floor_test = "" if floor is None else f"r.replay < '{lsn_text(floor)}' OR "
    # Only numbers, formatted here, are inlined.
    return (
        "SELECT (CASE WHEN r.replay IS NULL THEN 'todo-replica: not in recovery' "  # noqa: S608
        f"WHEN {floor_test}(r.received > r.replay "
        f"AND r.replayed_at < now() - interval '{lag_ms} milliseconds') "
        "THEN 'todo-replica: lagging' "
        f"WHEN r.replay < '{lsn_text(required)}' THEN 'todo-replica: behind' END)::pg_lsn "
        "FROM (SELECT pg_last_wal_replay_lsn() AS replay, pg_last_wal_receive_lsn() AS received, "
        "pg_last_xact_replay_timestamp() AS replayed_at) AS r"
    )


def verdict_of(exc: BaseException) -> Verdict | None:
    """What a replica's failure means, or None for an error that is not the replica's
    (a bug in the statement fails on the primary too: it is raised as it is)."""
    if isinstance(exc, PoolExhaustedError):
        return Verdict.BUSY
    if isinstance(exc, DatabaseConnectionError):  # the engine's typed connection errors
        text = f"{exc} {exc.__cause__ or ''}".lower()
        return Verdict.CONFLICT if "conflict with recovery" in text else Verdict.DOWN
    return _driver_verdict(exc) if isinstance(exc, DBAPIError) else None


def _driver_verdict(exc: DBAPIError) -> Verdict | None:
    original = exc.orig or exc
    message = str(original).lower()
    marked = (Verdict.BEHIND, Verdict.LAGGING, Verdict.NOT_A_REPLICA)
    verdict = next((v for v in marked if f"{_MARKER}{v.value}" in message), None)
    if verdict is not None:
        return verdict
    state = sqlstate_of(original) or ""
    if "conflict with recovery" in message or state in {"40001", "40P01"}:
        return Verdict.CONFLICT
    if state in _SCHEMA_NOT_THERE:
        return Verdict.SCHEMA
    return Verdict.DOWN if exc.connection_invalidated or state[:2] in {"08", "53", "57"} else None


class ReplicaHealth:
    """One replica's standing: usable, out until a time, or being tried again by one read."""

    def __init__(self, name: str) -> None:
        self.name = name  # the masked URL
        self._lock = threading.Lock()
        self._failures = 0
        self._out_until = 0.0

    def try_now(self) -> bool:
        """Whether a read may use the replica now; a read that comes when its time out ends
        is the one that tries it (the others keep to the primary until that one reports)."""
        now = time.monotonic()
        with self._lock:
            if now < self._out_until:
                return False
            if self._failures:
                self._out_until = now + BACKOFF_MAX_S  # until this read reports
            return True

    def served(self) -> None:
        with self._lock:
            back, self._failures, self._out_until = self._failures > 0, 0, 0.0
        if back:
            logger.warning("read replica %s serves reads again", self.name)

    def released(self) -> None:
        """The read that tried the replica did not get to use it (nothing learned)."""
        with self._lock:
            if self._failures:
                self._out_until = 0.0

    def failed(self, verdict: Verdict, reason: str) -> None:
        if verdict in (Verdict.BEHIND, Verdict.CONFLICT, Verdict.BUSY, Verdict.SCHEMA):
            self.released()
            return
        with self._lock:
            self._failures += 1
            first = self._failures == 1
            pause = BACKOFF_MAX_S
            if verdict is not Verdict.NOT_A_REPLICA:
                pause = min(BACKOFF_FIRST_S * 2 ** (self._failures - 1), BACKOFF_MAX_S)
            self._out_until = time.monotonic() + pause
        log = logger.warning if first or verdict is Verdict.NOT_A_REPLICA else logger.info
        log(
            "read replica %s skipped for %.1f s (%s): %s; its reads go to the primary",
            self.name,
            pause,
            verdict.value,
            reason,
        )
