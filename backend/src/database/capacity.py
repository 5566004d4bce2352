"""Connection capacity, checked: what the pools may open against what the endpoint serves.

Every process keeps its own pool, so a deployment may open processes x
(`DB_POOL_SIZE` + `DB_MAX_OVERFLOW`) connections to one endpoint (each read
replica has its own, with the primary's `max_connections`). At an engine's
first connection the server's `max_connections` and reserved slots are read
(one round trip, once) and, if the pools exceed them, one warning names every
number and the fix. The processes are `DB_EXPECTED_PROCESSES`, else
`WEB_CONCURRENCY` (what uvicorn and gunicorn read for their worker count),
else 1; every worker of every instance counts.

What an endpoint serves (research.md, "Connection capacity"):

- direct: `max_connections` minus the reserved slots (`superuser_reserved_connections`,
  `reserved_connections`; on Neon at least 7, kept for its own superuser);
  past them a connection is refused with SQLSTATE 53300.
- a Neon `-pooler` host: PgBouncer in transaction mode takes 10,000 clients, but
  runs at most 0.9 x `max_connections` transactions at once per role and
  database; the rest queue and are dropped after 120 s (`query_wait_timeout`).

A pooler that drops a transaction that waited too long says
`query_wait_timeout` where the driver passes it on (psycopg 3: SQLSTATE 08P01;
Neon's proxy puts it in the message). That is answered like an exhausted pool
(`PoolerExhaustedError`, a `PoolExhaustedError`: 503 with Retry-After). psycopg2
reports only "server closed the connection unexpectedly", which cannot be told
from a network cut: it stays a `DatabaseConnectionError` (503 too).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.pool import ConnectionPoolEntry

from src.config.settings import NEON_HOST_SUFFIX, Settings
from src.database.resilience import masked
from src.errors import DataLayerError, PoolExhaustedError

logger = logging.getLogger(__name__)

NEON_RESERVED = 7
NEON_POOLER_CLIENTS = 10_000
NEON_POOLER_SHARE = 0.9
NEON_QUERY_WAIT_TIMEOUT_S = 120
_LIMITS = (
    "SELECT current_setting('max_connections')::int, "
    "current_setting('superuser_reserved_connections')::int, "
    "coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int"
)


class PoolerExhaustedError(PoolExhaustedError):
    """The pooler dropped a transaction that waited past its `query_wait_timeout`."""

    def __init__(self, endpoint: str) -> None:
        DataLayerError.__init__(
            self,
            f"the connection pooler at {endpoint} found no free server connection within its "
            "query_wait_timeout and dropped the transaction; every server connection it may "
            "open was busy: shorten transactions, open fewer connections (processes x "
            "DB_POOL_SIZE) or use a larger compute",
        )


@dataclass(frozen=True, slots=True)
class Budget:
    """The numbers the warning names."""

    endpoint: str
    pooled_by_neon: bool
    processes: int
    process_source: str
    pool_size: int
    max_overflow: int
    max_connections: int
    reserved: int

    @property
    def opened(self) -> int:
        return self.processes * (self.pool_size + self.max_overflow)


def process_count(settings: Settings) -> tuple[int, str]:
    """The processes sharing an endpoint, and where that number came from."""
    if settings.expected_processes is not None:
        return settings.expected_processes, "DB_EXPECTED_PROCESSES"
    workers = os.environ.get("WEB_CONCURRENCY", "").strip()
    if workers.isdigit() and int(workers) > 0:
        return int(workers), "WEB_CONCURRENCY"
    return 1, "assumed: set DB_EXPECTED_PROCESSES"


def is_neon_pooler(url: URL) -> bool:
    host = (url.host or "").lower()
    return host.endswith(NEON_HOST_SUFFIX) and host.split(".", 1)[0].endswith("-pooler")


def capacity_warning(budget: Budget) -> str | None:
    """The warning for `budget`, or None if the pools fit."""
    per = f"{budget.pool_size + budget.max_overflow}"
    opened = (
        f"{budget.processes} process(es) ({budget.process_source}) x {per} connections "
        f"(DB_POOL_SIZE={budget.pool_size} + DB_MAX_OVERFLOW={budget.max_overflow}) = "
        f"{budget.opened} connections to {budget.endpoint}"
    )
    if budget.pooled_by_neon:
        busy = int(NEON_POOLER_SHARE * budget.max_connections)
        if budget.opened <= busy:
            return None
        refused = (
            f"; past {NEON_POOLER_CLIENTS} clients the pooler refuses connections"
            if budget.opened > NEON_POOLER_CLIENTS
            else ""
        )
        return (
            f"connection capacity: {opened}, a Neon pooler that runs at most {busy} "
            f"transactions at once (0.9 x max_connections {budget.max_connections}); when "
            "they are all busy at once, the rest wait in its queue and are dropped after "
            f"{NEON_QUERY_WAIT_TIMEOUT_S} s "
            f"(query_wait_timeout){refused}. Fix: {_fit(budget, busy)}, or a larger compute "
            "(max_connections grows with its size)"
        )
    usable = budget.max_connections - budget.reserved
    if budget.opened <= usable:
        return None
    return (
        f"connection capacity: {opened}, which serves {usable} (max_connections "
        f"{budget.max_connections} - {budget.reserved} reserved); past that connections are "
        "refused with 'remaining connection slots are reserved' (SQLSTATE 53300). "
        f"Fix: {_fit(budget, usable)}, or connect through the endpoint's -pooler host, or a "
        "larger compute (max_connections grows with its size)"
    )


def _fit(budget: Budget, slots: int) -> str:
    size = slots // budget.processes - budget.max_overflow
    if size >= 1:
        return f"DB_POOL_SIZE={size} or less with DB_MAX_OVERFLOW={budget.max_overflow}"
    return f"fewer than {slots + 1} processes with DB_POOL_SIZE=1 and DB_MAX_OVERFLOW=0"


def install(engine: Engine, settings: Settings) -> None:
    """Check `engine`'s endpoint at its first connection; map a full pooler's drop."""
    url, endpoint = engine.url, masked(engine.url)
    if settings.pooled:

        @event.listens_for(engine, "first_connect")
        def _check(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            try:
                cursor = dbapi_connection.cursor()
                cursor.execute(_LIMITS)
                max_connections, superuser, reserved = cursor.fetchone()
                cursor.close()
                dbapi_connection.rollback()
            except Exception as exc:  # a check never stops the connection
                logger.info("could not read the connection limits of %s: %s", endpoint, exc)
                return
            neon = (url.host or "").lower().endswith(NEON_HOST_SUFFIX)
            processes, source = process_count(settings)
            warning = capacity_warning(
                Budget(
                    endpoint,
                    is_neon_pooler(url),
                    processes,
                    source,
                    settings.pool_size,
                    settings.max_overflow,
                    int(max_connections),
                    max(int(superuser) + int(reserved), NEON_RESERVED if neon else 0),
                )
            )
            if warning is not None:
                logger.warning(warning)

    @event.listens_for(engine, "handle_error")
    def _pooler_full(context: ExceptionContext) -> BaseException | None:
        if "query_wait_timeout" in str(context.original_exception).lower():
            return PoolerExhaustedError(endpoint)
        return None
