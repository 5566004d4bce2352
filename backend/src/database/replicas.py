"""Reads on read replicas (`DATABASE_REPLICA_URLS`): the one place reads are routed.

`src.crud.transactions` asks `route_read` when an operation that only reads
begins in its own transaction (a request's session, one statement, nothing
unsaved). The read goes to a replica only if

- the engine has replicas (without `DATABASE_REPLICA_URLS` nothing here runs),
- the session has a read position (`read_your_writes`): a client token or a
  write of its own; without one the primary serves it, where it cannot be stale,
- a replica is in health (`replica_health`).

The statement then runs on a replica connection in autocommit, behind the
replica's check, in one Query message: `<check>; SET LOCAL app.current_user_id
= ...; <read>`. The check asks for the reader's position, this process's last
write of the same user (and of any account) and the lag floor. If the replica
refuses (behind, lagging, down, a recovery conflict), the same statement runs
on the primary, as it would have without replicas; only that costs a second
round trip. Writes, reads inside a caller's transaction and everything
outside an operation never come here, so a write never reaches a replica;
were one sent (SQLSTATE 25006), it would be raised, never retried.

The replica connection joins the session's transaction as a caller's
connection would (`rollback_only`): the ORM loads into the caller's session
as usual, the session never commits or closes it, and `end_operation`
returns it to its pool. SQLAlchemy documents this way of choosing a
connection per statement (`do_orm_execute`, `invoke_statement`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection, Result
from sqlalchemy.orm import ORMExecuteState, Session

from src.config.settings import Settings
from src.database import autocommit, read_your_writes
from src.database.read_positions import PositionTokens, WritePositions
from src.database.read_your_writes import POSITION, ReplicaSet
from src.database.replica_health import ReplicaHealth, check_sql, verdict_of
from src.database.resilience import masked
from src.models.row_security import as_user

_ROUTE = "todo.replica_route"  # Session.info: the routed read of the current operation
_CHECK = "todo_replica_check"  # execution option: the check sent ahead of the statement
REPLICA_CONNECT_TIMEOUT_S = 3
REPLICA_POOL_TIMEOUT_S = 0.25
# Without CURSOR_SECRET_KEY (allowed outside production) tokens are checksummed, not signed.
UNKEYED = b"todo-read-position: no CURSOR_SECRET_KEY set; this key is public"


@dataclass
class _Route:
    replicas: ReplicaSet
    user_id: int | None
    connection: Connection | None = None  # the replica connection, once opened
    on_primary: bool = False


def replica_settings(settings: Settings) -> list[Settings]:
    """Each replica's settings: its URL and the primary's pool size, but no connect
    retries, a short connect timeout, a connection whose host stops answering given up
    after `REPLICA_CONNECT_TIMEOUT_S` (libpq's `tcp_user_timeout`, unless the URL sets
    it), and a short wait for a free pooled connection: the primary serves meanwhile."""
    timeout = min(settings.connect_timeout_s, REPLICA_CONNECT_TIMEOUT_S)
    silent = {"tcp_user_timeout": str(REPLICA_CONNECT_TIMEOUT_S * 1000)}
    return [
        settings.model_copy(
            update={
                "database_url": url.update_query_dict({**silent, **url.query}),
                "database_replica_urls": (),
                "connect_retry_budget_s": 0.0,
                "connect_timeout_s": timeout,
                "pool_timeout_s": min(settings.pool_timeout_s, REPLICA_POOL_TIMEOUT_S),
            }
        )
        for url in settings.database_replica_urls
    ]


def attach(primary: Engine, replicas: Sequence[Engine], settings: Settings) -> None:
    """Serve `primary`'s reads from `replicas` (built by the one engine factory)."""
    for replica in replicas:
        event.listen(replica, "before_cursor_execute", _check_first, retval=True)
    if not event.contains(Session, "do_orm_execute", _read_on_replica):  # once, when first needed
        event.listen(Session, "do_orm_execute", _read_on_replica)
    health = [(replica, ReplicaHealth(masked(replica.url))) for replica in replicas]
    secret = settings.cursor_secret_key
    key = UNKEYED if secret is None else secret.get_secret_value().encode()
    positions = WritePositions(settings.replica_max_lag_s)
    read_your_writes.register(primary, ReplicaSet(health, positions, PositionTokens(key)))

    @event.listens_for(primary, "engine_disposed")
    def _dispose_replicas(_engine: Engine) -> None:
        for replica in replicas:
            replica.dispose()


def route_read(session: Session, engine: Engine, user_id: int | None) -> bool:
    """Arrange for the operation's read to try a replica; False: open the primary as usual."""
    found = read_your_writes.replica_set(engine)
    if found is None:
        return False
    position = session.info.get(POSITION)
    if position is None or position.lsn is None:
        found.count("primary: no position")
        return False
    if session.new or session.dirty or session.deleted:
        return False
    session.info[_ROUTE] = _Route(found, user_id)
    return True


def end_operation(session: Session) -> None:
    """Return the operation's replica connection, if it had one, to its pool."""
    route = session.info.pop(_ROUTE, None)
    if route is not None and route.connection is not None:
        route.connection.close()


def _read_on_replica(state: ORMExecuteState) -> Result[Any] | None:
    """Run a routed read on a replica; on refusal, open the primary and let it run there."""
    session = state.session
    route = session.info.get(_ROUTE)
    if route is None or route.on_primary:
        return None
    if state.is_select and route.connection is None:
        served = _try_replica(state, route)
        if served is not None:
            return served
    route.on_primary = True
    connection = session.connection(execution_options=as_user(route.user_id))
    autocommit.switch_on(connection)
    return None


def _try_replica(state: ORMExecuteState, route: _Route) -> Result[Any] | None:
    found = route.replicas
    candidates = random.sample(found.replicas, len(found.replicas))  # spread the load
    chosen = next(((e, h) for e, h in candidates if h.try_now()), None)
    if chosen is None:
        found.count("primary: replicas out")
        return None
    engine, health = chosen
    required = max(
        state.session.info[POSITION].lsn,
        found.positions.required(route.user_id, todos=route.user_id is not None),
    )
    check = check_sql(required, found.positions.lag_floor(), found.positions.max_lag_s)
    try:
        connection = engine.connect()
    except Exception as exc:
        _refused(found, health, exc)
        return None
    route.connection = connection
    try:
        autocommit.switch_on(connection)
        connection.execution_options(**as_user(route.user_id), **{_CHECK: check})
        connection.begin()  # joined by the session, which then never commits or closes it
        result = state.invoke_statement(bind_arguments={"bind": connection})
    except Exception as exc:
        _refused(found, health, exc)
        return None
    health.served()
    found.count("replica")
    return result


def _refused(found: ReplicaSet, health: ReplicaHealth, exc: BaseException) -> None:
    verdict = verdict_of(exc)
    if verdict is None:  # not the replica's: the primary would fail the same way
        health.released()
        raise exc
    health.failed(verdict, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    found.count(f"primary: replica {verdict.value}")


def _check_first(
    _connection: Connection,
    _cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    _executemany: bool,
) -> tuple[str, Any]:
    """Put the replica's check in front of a routed statement (same Query message)."""
    check = None if context is None else context.execution_options.get(_CHECK)
    return (statement, parameters) if check is None else (f"{check}; {statement}", parameters)
