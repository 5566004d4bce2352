"""The one place an operation's transaction begins and ends.

Every operation runs its statements inside `all_or_nothing`, which decides
how the transaction travels and ends it before the operation returns:

- A session that holds no transaction and no unsaved change (every
  request's session, `Session(engine)`, `new_session()`) runs a
  single-statement operation on an autocommit connection. With the naming of
  the user sent in the same Query message (`row_security.as_user`), the
  statement is its own implicit transaction: one round trip, nothing held
  after it. An operation of several statements (a bulk insert of more than
  one batch) runs in one explicit transaction, committed here.
- With read replicas (`DATABASE_REPLICA_URLS`), such an operation that only
  reads may run on a replica instead; `src.database.replicas` decides, and
  learns the primary's WAL position after each write for it.
- A session already inside a transaction (the caller began one, or bound the
  session to a connection in one) is joined: a write commits it, as always; a
  read leaves it to its owner.

Ending never expires what the session holds, whatever `expire_on_commit`
says (SQLModel's default is to expire): a reload after the commit would run
where no user is named, and a held todo would look deleted. Reads refresh
the objects they return instead (`populate_existing`).

If anything fails (a constraint, a lost connection, a bug), the session is
rolled back before the error leaves the operation, so nothing half-written
can be committed by a later call. A rollback expires every object the
session holds; those are reloaded right here, one query per table and todo
owner, so the caller holds what the database holds, as after a commit (and
under asyncio no lazy load is ever needed).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, Select, event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel import col

from src.database import autocommit, read_your_writes, replicas
from src.database.resilience import is_interrupt
from src.errors import DataLayerError, NotFoundError, SessionConfigurationError
from src.models import Todo, User
from src.models.row_security import act_as, as_user, names_users

logger = logging.getLogger(__name__)


_HELD = "todo.held_at_rollback"  # Session.info: what the session held when it rolled back
_PENDING = "todo.reload_pending"  # Session.info: held objects a failed reload left expired
_RELOAD_FAILURES = (SQLAlchemyError, DataLayerError)  # DatabaseConnectionError is the latter


@contextmanager
def all_or_nothing(
    session: Session,
    user_id: int | None = None,
    *,
    writes: bool = True,
    single_statement: bool = True,
) -> Iterator[None]:
    """Run an operation's statements as `user_id`; end the transaction before returning.

    `user_id` is named to row security with the statements (todo operations
    pass it; account operations touch no row-secured table). With
    `single_statement` the block sends one statement, which then needs no
    explicit transaction. A `NotFoundError` raised by
    the block means nothing was changed: it is not rolled back, so objects
    the caller holds are not expired.
    """
    session.info.pop(_HELD, None)  # left by a rollback of the caller's own
    _reload_pending(session)  # objects a reload could not reach last time (database away)
    own = False
    try:
        # Inside the try: a failure while beginning (a full pool, an interrupt) is rolled
        # back too, so no connection carrying a user outlives the operation.
        own = _begin(session, user_id, single_statement=single_statement, writes=writes)
        yield
        if own or writes:
            end_keeping_objects(session)
        if writes:
            read_your_writes.note_write(session, user_id)  # where this user's reads must be
    except NotFoundError:
        if own:
            end_keeping_objects(session)
        raise
    except BaseException as exc:
        # After an interrupt the caller wants control back: no reload now (the next
        # operation on the session does it), only the rollback, which on the
        # connection the interrupt cut is local (SQLAlchemy discarded that connection).
        roll_back(session, reload=not is_interrupt(exc))
        raise
    finally:
        replicas.end_operation(session)


def _begin(session: Session, user_id: int | None, *, single_statement: bool, writes: bool) -> bool:
    """Begin the operation's own transaction; False if it joins one the caller holds.

    Its own: the connection carries the user for every statement of the
    operation (flushes included), and the statement hook names it with every
    statement on an autocommit connection (a single statement with nothing
    unsaved to flush), once per transaction otherwise. That connection is
    released when the operation ends, so the user goes with it. Joined: the
    user is named once in the caller's transaction with `act_as`, leaving the
    caller's connection as it was.
    """
    bind = session.get_bind()
    own = isinstance(bind, Engine) and not session.in_transaction()
    if bind.dialect.name != "postgresql":
        return own  # SQLite: a local transaction, begun by the first statement
    if not names_users(bind.engine):
        raise SessionConfigurationError(
            "the engine was not built by src.database (build_engine, build_async_engine, "
            "get_engine), so it cannot name the user to row security"
        )
    if not own:
        if user_id is not None:
            act_as(session, user_id)
        return False
    if not writes and single_statement and replicas.route_read(session, bind.engine, user_id):
        return True  # a replica, or the primary if it cannot serve (src.database.replicas)
    connection = session.connection(execution_options=as_user(user_id))
    if single_statement and not (session.new or session.dirty or session.deleted):
        autocommit.switch_on(connection)
    return True


def end_keeping_objects(session: Session) -> None:
    """Commit without expiring what the session holds (on autocommit: release the connection)."""
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


@event.listens_for(Session, "after_rollback")
def _note_held_objects(session: Session) -> None:
    """Record what the session holds before SQLAlchemy expires it.

    Fires after the database rolled back and before the objects are expired,
    also when SQLAlchemy rolls back by itself because a flush failed. Only the
    ids are kept, and only until `roll_back` reloads them.
    """
    users, todos = session.info.setdefault(_HELD, (set(), defaultdict(set)))
    for row in session.identity_map.values():
        loaded = row.__dict__
        if isinstance(row, User) and isinstance(loaded.get("id"), int):
            users.add(loaded["id"])
        elif isinstance(row, Todo) and isinstance(loaded.get("user_id"), int):
            todos[loaded["user_id"]].add(loaded["id"])


def roll_back(session: Session, *, reload: bool = True) -> None:
    """Roll the session back, then reload the users and todos it held (or leave that to
    the next operation on the session, `reload=False`).

    Never raises: it runs while an operation's own error propagates, and that
    error (not a failure of this clean-up) is what the caller must see.
    """
    try:
        session.rollback()
    except _RELOAD_FAILURES:
        logger.debug("rollback after a failed operation failed too", exc_info=True)
    session.info[_PENDING] = session.info.pop(_HELD, (set(), {}))
    if reload:
        _reload_pending(session)


def _reload_pending(session: Session) -> None:
    """Reload what a rollback expired; if the database is away, keep the list for next time.

    The next operation on the session retries first, so a todo the caller
    holds is readable again as soon as the database is back.
    """
    held = session.info.pop(_PENDING, None)
    if held is None:
        return
    users, todos_by_owner = held
    began = not session.in_transaction()
    try:
        if users:
            _reload(session, select(User).where(col(User.id).in_(users)))
        for owner, todo_ids in todos_by_owner.items():
            statement = select(Todo).where(col(Todo.user_id) == owner, col(Todo.id).in_(todo_ids))
            _reload(session, statement.execution_options(**as_user(owner)))
        if began:
            end_keeping_objects(session)
    except _RELOAD_FAILURES:
        logger.debug("could not reload objects after a rollback", exc_info=True)
        try:
            session.rollback()
        except _RELOAD_FAILURES:
            logger.debug("rollback after a failed reload failed too", exc_info=True)
        session.info.pop(_HELD, None)
        session.info[_PENDING] = (users, todos_by_owner)


def _reload(session: Session, statement: Select[Any]) -> None:
    session.execute(statement.execution_options(populate_existing=True)).all()
