"""Where a package call spends its time, next to the raw driver sending the same SQL.

    cd backend && ../.venv/bin/python -m benchmarks.experiments.profiling \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --markdown ../benchmark-results/profile.md

Builds a small database of its own (per-call overhead does not depend on table
size), then prints, for `list_todos` (first and deep page) and `update_todo`,
the median microseconds of each part of a call (`decompose.py`), isolated
costs and alternatives (`costs.py`), and a cProfile summary by library.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlmodel import Session

from benchmarks.common.database import application_role, bench_database
from benchmarks.experiments.profiling.costs import by_library, micro_costs
from benchmarks.experiments.profiling.decompose import drive, median_parts, median_us
from benchmarks.operations.dataset import load
from benchmarks.operations.plans import act_as_setting, captured
from benchmarks.operations.raw import RawDriver
from benchmarks.operations.run import engine_for
from src import crud
from src.database.connection import create_db_and_tables, new_session
from src.models import TodoUpdate


@dataclass(frozen=True, slots=True)
class Case:
    title: str
    operation: str  # its name in `src.crud`
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    raw: Callable[[], object]


def breakdown(session: Session, case: Case, calls: int) -> list[str]:
    """A Markdown table of one operation's parts, median µs per call."""
    public = getattr(crud, case.operation)
    bare = public.__wrapped__  # the operation without @validated
    args, kwargs = case.args, case.kwargs
    total = median_us(lambda _: public(session, *args, **kwargs), calls)
    raw = median_us(lambda _: case.raw(), calls)
    validation = total - median_us(lambda _: bare(session, *args, **kwargs), calls)
    for _ in range(50):
        drive(session, bare, *args, **kwargs)
    parts = median_parts([drive(session, bare, *args, **kwargs) for _ in range(calls)])
    rest = total - validation - sum(parts.values())
    lines = [f"### {case.title}", ""]
    lines.append(
        f"package {total:.0f} µs, raw driver {raw:.0f} µs (same statements): "
        f"the package adds {total - raw:.0f} µs per call"
    )
    lines += ["", "| part of a package call | µs |", "|---|--:|"]
    lines.append(f"| argument validation (@validated: bind + validate_call) | {validation:.1f} |")
    lines += [f"| {name} | {value:.1f} |" for name, value in parts.items()]
    lines.append(f"| what medians do not add up to | {rest:.1f} |")
    return [*lines, ""]


def profile(engine: Engine, owner: Engine, url: URL, calls: int) -> list[str]:
    data = load(engine, owner, 2, 10_000)
    user = data.user_ids[0]
    raw = RawDriver(url)
    try:
        with new_session(engine) as session:
            sent = captured(engine, lambda: crud.count_todos(session, user))
            raw.act_as_setting = act_as_setting(sent)
            cursor = None
            for _ in range(9_000 // 50):
                cursor = crud.list_todos(session, user, cursor=cursor).next_cursor
            boundary, target = raw.boundary(user, 9_000), raw.todo_ids(user)[123]
            rename = TodoUpdate(title="Renamed")
            cases = [
                Case(
                    "list_todos: first page",
                    "list_todos",
                    (user,),
                    {},
                    lambda: raw.first_page(user),
                ),
                Case(
                    "list_todos: page after 9,000 rows (cursor)",
                    "list_todos",
                    (user,),
                    {"cursor": cursor},
                    lambda: raw.keyset_page(user, boundary),
                ),
                Case(
                    "update_todo (title) + commit",
                    "update_todo",
                    (user, target, rename),
                    {},
                    lambda: raw.rename(user, target, "Renamed"),
                ),
            ]
            lines: list[str] = []
            for case in cases:
                lines += breakdown(session, case, calls)
                raw.end()
            session.rollback()
            lines += micro_costs(session, raw, user, calls)
            lines += by_library(session, user, calls)
    finally:
        raw.close()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.experiments.profiling")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--database-name", default="todo_bench_profile")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("profiling compares with psycopg2: pass --database-url (PostgreSQL)")
    with bench_database(args.database_url, args.database_name) as owner_url:
        owner = engine_for(owner_url)
        try:
            create_db_and_tables(owner)
            with application_role(owner_url, f"{args.database_name}_app") as url:
                engine = engine_for(url)
                try:
                    report = "\n".join(["## Profile", "", *profile(engine, owner, url, args.calls)])
                finally:
                    engine.dispose()
        finally:
            owner.dispose()
    print(report)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(report, encoding="utf-8")
    return 0
