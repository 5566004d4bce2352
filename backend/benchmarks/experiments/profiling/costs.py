"""Single costs inside a `list_todos` call, and what the alternatives would cost.

Each figure is the median of many calls of one isolated piece, so the parts of
a call found by `decompose.py` can be traced to a line of code and a fix.
"""

from __future__ import annotations

import cProfile
import inspect
import pstats
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, event, func, select, text, true
from sqlmodel import Session, col

from benchmarks.experiments.profiling.decompose import median_us
from benchmarks.operations.raw import ACT_AS, FIRST_PAGE, RawDriver
from src import crud
from src.crud import todos
from src.crud.pagination import Position, decode_cursor, encode_cursor
from src.models import Todo
from src.models.types import UTCDateTime

NEWEST = (col(Todo.created_at).desc(), col(Todo.id).desc())
LIBRARIES = ("sqlalchemy/orm", "sqlalchemy/sql", "sqlalchemy/engine", "sqlalchemy", "sqlmodel")


def micro_costs(session: Session, raw: RawDriver, user: int, calls: int) -> list[str]:
    """A Markdown table of isolated costs (µs per call), all in one open transaction."""
    page = crud.list_todos(session, user)  # also names the user for row security, if any
    last = page.items[-1]
    assert last.id is not None
    assert page.next_cursor is not None
    position, cursor = Position(user, None, True, last.created_at, last.id), page.next_cursor
    signature = inspect.signature(todos.list_todos.__wrapped__)  # type: ignore[attr-defined]
    to_utc = UTCDateTime().process_result_value
    stamps = [t.created_at for t in page.items] * 2
    dialect = session.get_bind().dialect
    user_id: Any = bindparam("u")
    prebuilt = select(Todo).where(col(Todo.user_id) == user_id).order_by(*NEWEST).limit(51)
    core = select(*Todo.__table__.c).where(col(Todo.user_id) == user_id).order_by(*NEWEST)  # type: ignore[attr-defined]
    core = core.limit(51)
    setting = raw.act_as_setting or "app.current_user_id"
    act_as_text = text("SELECT set_config(:name, :value, true)")
    connection = session.connection()

    def fresh() -> Any:
        return select(Todo).where(col(Todo.user_id) == user).order_by(*NEWEST).limit(51)

    def act_as() -> Any:
        return select(func.set_config(setting, str(user), true()))

    cur = raw.connection.cursor()
    cur.execute(ACT_AS, (setting, str(user)))  # the raw transaction sees the same rows
    rows: list[tuple[str, Callable[[int], object]]] = [
        (
            "inspect.Signature.bind of the arguments (in @validated)",
            lambda _: signature.bind(session, user),
        ),
        ("encode_cursor (struct + HMAC-SHA256 + base64)", lambda _: encode_cursor(position)),
        (
            "decode_cursor",
            lambda _: decode_cursor(cursor, user_id=user, completed=None, newest_first=True),
        ),
        (
            "UTCDateTime.process_result_value x 102 (2 per row)",
            lambda _: [to_utc(s, dialect) for s in stamps],
        ),
        (
            "SQLModel Todo.__new__ x 51 (ORM instance shells)",
            lambda _: [Todo.__new__(Todo) for _ in range(51)],
        ),
        ("build the page statement, as list_todos does", lambda _: fresh()),
        ("... plus its cache key", lambda _: fresh()._generate_cache_key()),
        ("ORM page, fresh statement per call (as now)", lambda _: list(session.scalars(fresh()))),
        (
            "ORM page, one prebuilt statement with bindparam()",
            lambda _: list(session.scalars(prebuilt, {"u": user})),
        ),
        (
            "Core rows, prebuilt (no ORM objects)",
            lambda _: session.execute(core, {"u": user}).all(),
        ),
        (
            "raw psycopg2: the page SELECT + fetchall",
            lambda _: (cur.execute(FIRST_PAGE, (user, 51)), cur.fetchall()),
        ),
        (
            "set_config as now: select(func.set_config()) via Session",
            lambda _: session.execute(act_as()),
        ),
        (
            "set_config via prebuilt text() on the Connection",
            lambda _: connection.execute(act_as_text, {"name": setting, "value": str(user)}),
        ),
        ("raw psycopg2: set_config", lambda _: cur.execute(ACT_AS, (setting, str(user)))),
        (
            "raw psycopg2: SELECT 1 (one round trip, as pool_pre_ping)",
            lambda _: cur.execute("SELECT 1"),
        ),
    ]
    flushes = [0]

    def count_flush(*_: Any) -> None:
        flushes[0] += 1

    event.listen(Session, "before_flush", count_flush)
    for _ in range(calls):
        crud.list_todos(session, user)
    event.remove(Session, "before_flush", count_flush)
    lines = ["### Isolated costs and alternatives (median µs per call)", ""]
    lines += ["| what | µs |", "|---|--:|"]
    lines.append(
        f"| flush guard (before_flush) runs in {calls:,} list_todos calls | {flushes[0]} runs |"
    )
    lines += [f"| {name} | {median_us(call, calls):.1f} |" for name, call in rows]
    cur.close()
    raw.end()
    return [*lines, ""]


def by_library(session: Session, user: int, calls: int) -> list[str]:
    """cProfile of `calls` list_todos calls, own time summed by library: shares, not µs,
    because the profiler slows Python code far more than C code."""
    profile = cProfile.Profile()
    profile.runcall(lambda: [crud.list_todos(session, user) for _ in range(calls)])
    totals: defaultdict[str, float] = defaultdict(float)
    for (path, _line, name), row in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        library = next((lib for lib in LIBRARIES if lib in path), None)
        if library is None and "backend/src" in path:
            library = "the package (backend/src)"
        if library is None:
            library = "psycopg2 (C; includes the round trips)" if "psycopg2" in name else "stdlib"
        totals[library] += row[2]
    whole = sum(totals.values())
    lines = [f"### cProfile of {calls:,} list_todos calls: own time by library", ""]
    lines += ["| library | share |", "|---|--:|"]
    lines += [
        f"| {k} | {v / whole:.0%} |" for k, v in sorted(totals.items(), key=lambda kv: -kv[1])
    ]
    return [*lines, ""]
