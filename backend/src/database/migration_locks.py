"""A migration on PostgreSQL takes its table locks all at once, never while holding one.

A request that lists todos and then creates one locks `todo` and then, through
the foreign key, `user`; one that reads its account and then its todos locks
them the other way round. A migration altering both tables in either order
deadlocks with one of them: it holds an ACCESS EXCLUSIVE lock on one table
while it queues for the other, behind a request that waits for the first.

So before the first revision runs, `hold_tables` takes ACCESS EXCLUSIVE on every
package table in one attempt: it queues for one table while holding none of
them, then takes the others with NOWAIT. If one is busy it lets go of all (a
savepoint's rollback releases them), and queues for the busy one next. Holding
nothing while it waits, it can never close a cycle with requests; the requests
wait for it at most one attempt at a time. Past the lock timeout it gives up
with `MigrationLockTimeoutError`, which names the table and the sessions in its
way, and the upgrade changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from src.database.resilience import sqlstate_of
from src.errors import DataLayerError

LOCK_NOT_AVAILABLE = "55P03"  # NOWAIT refused, or lock_timeout expired
ATTEMPT_WAIT_S = 1.0  # the longest requests queue behind one attempt
RETRY_PAUSE_S = 0.05  # after letting go, before queueing again: the queue drains


class MigrationLockTimeoutError(DataLayerError):
    """A migration could not lock a table within the lock timeout; it changed nothing."""

    def __init__(self, table: str, waited_s: float, holders: Sequence[str]) -> None:
        held_by = "; ".join(holders) or "sessions that have since finished"
        super().__init__(
            f"migration: waited {waited_s:.1f} s for an ACCESS EXCLUSIVE lock on table "
            f'"{table}" and gave up; it is held by {held_by}. Nothing was changed. Run the '
            "upgrade again when those transactions have ended (end long-running or idle "
            "transactions first), or allow a longer wait with DB_MIGRATION_LOCK_TIMEOUT_S."
        )
        self.table = table
        self.waited_s = waited_s


def hold_tables(connection: Connection, tables: Sequence[str], timeout_s: float) -> None:
    """ACCESS EXCLUSIVE on each existing table of `tables` until the transaction ends.

    Waits for the first table (holding none), NOWAIT for the rest; a busy table
    is waited for first in the next attempt. Then sets `lock_timeout` to
    `timeout_s` for the rest of the transaction, so no later lock waits forever.
    """
    order = [table for table in tables if _exists(connection, table)]
    deadline = time.monotonic() + timeout_s
    while order:
        remaining = deadline - time.monotonic()
        busy = _try_lock(connection, order, wait_s=min(remaining, ATTEMPT_WAIT_S))
        if busy is None:
            break
        if time.monotonic() >= deadline:
            raise MigrationLockTimeoutError(busy, timeout_s, _holders(connection, busy))
        order.remove(busy)
        order.insert(0, busy)
        time.sleep(min(RETRY_PAUSE_S, max(deadline - time.monotonic(), 0)))
    _set_lock_timeout(connection, timeout_s)


def _try_lock(connection: Connection, order: Sequence[str], wait_s: float) -> str | None:
    """Lock every table of `order`, or none of them and answer the one that was busy."""
    attempt = connection.begin_nested()
    busy = order[0]
    try:
        _set_lock_timeout(connection, max(wait_s, 0.001))
        connection.execute(text(f"LOCK TABLE {_quoted(busy)} IN ACCESS EXCLUSIVE MODE"))
        for busy in order[1:]:  # on failure, `busy` names the table refused
            connection.execute(text(f"LOCK TABLE {_quoted(busy)} IN ACCESS EXCLUSIVE MODE NOWAIT"))
    except OperationalError as exc:
        if exc.orig is None or sqlstate_of(exc.orig) != LOCK_NOT_AVAILABLE:
            raise
        attempt.rollback()
        return busy
    attempt.commit()
    return None


def _set_lock_timeout(connection: Connection, seconds: float) -> None:
    milliseconds = max(round(seconds * 1000), 1)
    connection.execute(
        text("SELECT set_config('lock_timeout', :value, true)"), {"value": f"{milliseconds}ms"}
    )


def _exists(connection: Connection, table: str) -> bool:
    found = connection.execute(text("SELECT to_regclass(quote_ident(:t))"), {"t": table})
    return found.scalar() is not None


def _holders(connection: Connection, table: str) -> list[str]:
    """The other sessions holding a lock on `table`: pid, application and state, no SQL."""
    rows = connection.execute(
        text(
            "SELECT a.pid, a.application_name, a.state,"
            " extract(epoch FROM now() - a.xact_start)"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.relation = to_regclass(quote_ident(:t)) AND l.granted"
            " AND l.pid <> pg_backend_pid() ORDER BY a.pid"
        ),
        {"t": table},
    )
    return [
        f"pid {pid} ({application or 'no application name'}, {state}"
        + (f", in a transaction for {float(age):.1f} s)" if age is not None else ")")
        for pid, application, state, age in rows
    ]


def _quoted(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'
