"""All or nothing: the one place an operation commits, or rolls back and stays usable.

Every operation runs its statements inside `all_or_nothing`. If anything
fails (a constraint, a trigger, a lost connection, a bug), the session is
rolled back before the error leaves the operation, so nothing half-written can
be committed by a later call, and the session can be used again at once.

A rollback expires every object the session holds; the next attribute access
would reload it lazily. That reload is what breaks callers: on PostgreSQL it
runs in a new transaction where no user is named to row security, so a todo
the caller holds looks deleted (`ObjectDeletedError`), and under asyncio lazy
I/O is impossible (`MissingGreenlet`). So after the rollback the objects the
caller held are reloaded right here, in one query per table (and per todo
owner, named with `act_as`), while the operation still runs inside
`run_sync`. The caller then holds what the database holds, as after a commit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Select, event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel import col

from src.errors import DataLayerError, NotFoundError
from src.models import Todo, User
from src.models.row_security import act_as

logger = logging.getLogger(__name__)


_HELD = "todo.held_at_rollback"  # Session.info: what the session held when it rolled back
_PENDING = "todo.reload_pending"  # Session.info: held objects a failed reload left expired
_RELOAD_FAILURES = (SQLAlchemyError, DataLayerError)  # DatabaseConnectionError is the latter


@contextmanager
def all_or_nothing(session: Session, *, commit: bool = True) -> Iterator[None]:
    """Commit the block's work (if `commit`); on any failure roll back, keep held objects loaded.

    A `NotFoundError` raised by the block means nothing was changed: it leaves
    the transaction as it is, so objects the caller holds are not expired.
    """
    session.info.pop(_HELD, None)  # left by a rollback of the caller's own
    _reload_pending(session)  # objects a reload could not reach last time (database away)
    try:
        yield
        if commit:
            session.commit()
    except NotFoundError:
        raise
    except BaseException:
        roll_back(session)
        raise


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


def roll_back(session: Session) -> None:
    """Roll the session back, then reload the users and todos it held.

    Never raises: it runs while an operation's own error propagates, and that
    error (not a failure of this clean-up) is what the caller must see.
    """
    try:
        session.rollback()
    except _RELOAD_FAILURES:
        logger.debug("rollback after a failed operation failed too", exc_info=True)
    session.info[_PENDING] = session.info.pop(_HELD, (set(), {}))
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
    if session.expire_on_commit:  # refused by the todo operations; reloads lazily, no user named
        todos_by_owner = {}
    try:
        if users:
            _reload(session, select(User).where(col(User.id).in_(users)))
        for owner, todo_ids in todos_by_owner.items():
            act_as(session, owner)
            _reload(session, select(Todo).where(col(Todo.id).in_(todo_ids)))
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
