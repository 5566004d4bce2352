"""What the embedded default's promises cost on SQLite: the instant triggers and the lending pool.

    cd backend && ../.venv/bin/python -m benchmarks.experiments.sqlite_embedded

- Work per inserted row (SQLite virtual-machine steps, counted by a progress
  handler, so the figure does not depend on the machine's load) for a row whose
  instants arrive in the stored form (every package write) and one stamped by
  the server default, with and without the triggers of `src.models.types`.
- CPU time (this process's: the database runs in it, and other processes on
  the machine count less than in wall time) of a 10,000-todo bulk create with
  and without the triggers, and of 2,000 single creates on the in-memory
  database through `StaticPool` (one connection shared by all) and
  `OneConnectionPool` (lent to one transaction at a time); medians of
  alternating runs. Figures are printed, never judged.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from src import crud
from src.config.settings import Settings
from src.database.connection import build_engine, create_db_and_tables, prepare
from src.models import TodoCreate

RUNS = 7
USER = "INSERT INTO \"user\" (email, hashed_password) VALUES ('a@example.com', '$argon2id$x')"
ROWS = {
    "instants in the stored form": (
        "INSERT INTO todo (user_id, title, created_at, updated_at, completed)"
        " VALUES (1, 't', '2026-12-01 10:00:00.123456', '2026-12-01 10:00:00.123456', 0)"
    ),
    "instants from the server default": "INSERT INTO todo (user_id, title) VALUES (1, 't')",
}


def settings() -> Settings:
    return Settings(_env_file=None, DATABASE_URL="sqlite://")


def memory(*, triggers: bool = True, shared: bool = False) -> Engine:
    """A fresh in-memory database with the schema; `shared`: behind a plain StaticPool."""
    if shared:
        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        prepare(engine, settings())
    else:
        engine = build_engine(settings())
    create_db_and_tables(engine)
    with engine.begin() as connection:
        if not triggers:
            names = connection.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))
            for name in names.scalars().all():
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
        connection.exec_driver_sql(USER)
    return engine


def steps_per_row(statement: str, *, triggers: bool, rows: int = 1000) -> float:
    engine = memory(triggers=triggers)
    driver: Any = engine.raw_connection().driver_connection
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    driver.set_progress_handler(count, 1)
    for _ in range(rows):
        driver.execute(statement)
    driver.set_progress_handler(None, 1)
    engine.dispose()
    return steps[0] / rows


def timed(make: Callable[[], Engine], work: Callable[[Session, int], object]) -> float:
    engine = make()
    with Session(engine, expire_on_commit=False) as session:
        owner = session.scalars(text('SELECT id FROM "user"')).one()
        started = time.process_time()
        work(session, int(owner))
        elapsed = time.process_time() - started
    engine.dispose()
    return elapsed


def medians(
    cases: dict[str, tuple[Callable[[], Engine], Callable[[Session, int], object]]],
) -> None:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(RUNS):  # alternating, so drift in the machine's load hits every case alike
        for name, (make, work) in cases.items():
            times[name].append(timed(make, work))
    for name, samples in times.items():
        print(f"  {name}: {statistics.median(samples) * 1000:.0f} ms CPU (median of {RUNS})")


def bulk(session: Session, owner: int) -> object:
    return crud.create_todos(session, owner, [TodoCreate(title=f"t{n}") for n in range(10_000)])


def singles(session: Session, owner: int) -> object:
    return [crud.create_todo(session, owner, TodoCreate(title=f"t{n}")) for n in range(2_000)]


def main() -> None:
    print("SQLite VM steps per inserted row (without -> with the instant triggers):")
    for name, statement in ROWS.items():
        without = steps_per_row(statement, triggers=False)
        with_ = steps_per_row(statement, triggers=True)
        print(f"  {name}: {without:.0f} -> {with_:.0f} (+{with_ - without:.0f})")
    print("Bulk create of 10,000 todos, in memory:")
    medians({"without triggers": (lambda: memory(triggers=False), bulk),
             "with triggers": (memory, bulk)})  # fmt: skip
    print("2,000 single creates in one thread, in memory:")
    medians({"StaticPool (shared)": (lambda: memory(shared=True), singles),
             "OneConnectionPool (lent)": (memory, singles)})  # fmt: skip


if __name__ == "__main__":
    main()
