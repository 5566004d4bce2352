"""What a read must see: the reader's position, and the replicas a primary engine has.

Read-your-writes by WAL position (`read_positions` has the rules and the
token). This module keeps, per primary engine, its `ReplicaSet` (replicas,
this process's write positions, the token key, the reads' tally) and, per
session, the client's `ReadPosition`:

- `follow` gives a session its client's position from a token (the FastAPI
  integration reads it from a cookie, `src.api.consistency`);
- `note_write`, after every write commits, reads the primary's WAL position
  (one round trip) and moves the writer's positions to it;
- `position_token` is what to hand the client back.

`src.database.replicas` decides where each read runs from these.
Without `DATABASE_REPLICA_URLS` an engine has no `ReplicaSet`, and nothing
here sends a statement.

The position is `pg_current_wal_insert_lsn()`, GitLab's choice, not
`pg_current_wal_lsn()`: the latter is where WAL has been *written* to, and with
`synchronous_commit = off` a commit record can still sit in the WAL buffers
behind it; a replica that reached it could still miss the commit (measured
on the test cluster: reads right after a write missed it). The insert
position is past every record inserted, so past the commit.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from src.database import autocommit
from src.database.read_positions import (
    PINNED,
    PositionTokens,
    ReadPosition,
    WritePositions,
    lsn_from_text,
)
from src.database.replica_health import ReplicaHealth

logger = logging.getLogger(__name__)

POSITION = "todo.read_position"  # Session.info: the session's ReadPosition


@dataclass
class ReplicaSet:
    """A primary engine's replicas, this process's write positions and the reads' tally."""

    replicas: list[tuple[Engine, ReplicaHealth]]
    positions: WritePositions
    tokens: PositionTokens
    tally: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, outcome: str) -> None:
        with self.lock:
            self.tally[outcome] += 1


_SETS: weakref.WeakKeyDictionary[Engine, ReplicaSet] = weakref.WeakKeyDictionary()


def register(primary: Engine, replicas: ReplicaSet) -> None:
    _SETS[primary] = replicas


def replica_set(engine: Engine) -> ReplicaSet | None:
    """The replicas `engine` reads from, or None (no `DATABASE_REPLICA_URLS`)."""
    return _SETS.get(engine)


def of_session(session: Session) -> ReplicaSet | None:
    """The replicas of the engine `session` is bound to, or None."""
    bind = session.get_bind()
    return _SETS.get(bind) if isinstance(bind, Engine) else None


def statistics(engine: Engine) -> dict[str, int]:
    """How this process's reads on `engine` were served, by outcome (tests, benchmarks)."""
    found = _SETS.get(engine)
    if found is None:
        return {}
    with found.lock:
        return dict(found.tally)


def follow(
    session: Session, token: str | None, on_change: Callable[[str], None] | None = None
) -> None:
    """Give `session` its client's position from `token` (missing or forged: none), and
    have `on_change` hear the token to hand back after each write. No-op without replicas."""
    found = of_session(session)
    if found is None:
        return
    tokens = found.tokens
    notify = None if on_change is None else (lambda lsn: on_change(tokens.issue(lsn)))
    session.info[POSITION] = ReadPosition(tokens.read(token), notify)


def position_token(session: Session) -> str | None:
    """The token for the session's position, to hand to its client; None if it has none."""
    found, position = of_session(session), session.info.get(POSITION)
    if found is None or position is None or position.lsn is None:
        return None
    return found.tokens.issue(position.lsn)


def note_write(session: Session, user_id: int | None) -> None:
    """After a write committed: learn the primary's WAL position for the writer's reads.

    If the primary cannot say (gone right after the commit), the writer's reads
    are pinned to the primary until a later write learns a position.
    """
    found, engine = of_session(session), session.get_bind()
    if found is None or not isinstance(engine, Engine):
        return
    try:
        with engine.connect() as connection:
            autocommit.switch_on(connection)
            lsn = lsn_from_text(
                str(connection.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar())
            )
    except Exception as exc:  # the write itself is committed: never undo its answer
        logger.warning("could not read the primary's WAL position after a write: %s", exc)
        lsn = PINNED
    found.positions.record(user_id, lsn)
    position = session.info.get(POSITION)
    if position is None:
        session.info[POSITION] = position = ReadPosition()
    position.advance(lsn)
