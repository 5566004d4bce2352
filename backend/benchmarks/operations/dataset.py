"""The data set, loaded through the package's own bulk path.

Todos go in through `crud.create_todos`, as an import would, connected as the
role the package is measured as. Afterwards the tables' owner runs one UPDATE
that spreads `created_at` over time (the bulk path stamps a whole batch with
the same instant), rewrites the table and refreshes statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy import Engine, text
from tqdm import tqdm  # type: ignore[import-untyped]

from src import crud
from src.database.connection import new_session
from src.models import TodoCreate, UserCreate

LOAD_BATCH = 1_000
PASSWORD = SecretStr("benchmark-password")  # throwaway accounts in a throwaway database

SPREAD_NOTE = (
    "loaded with crud.create_todos in batches of 1,000 per call, round-robin over users; "
    "then ONE UPDATE set created_at = updated_at = now - (max_id - id) seconds, because "
    "the bulk path stamps a whole batch with the same time; a third completed; description "
    "set on every other load batch (see 'bulk_create_mixed')"
)


@dataclass(frozen=True, slots=True)
class Dataset:
    user_ids: list[int]
    bulk_user_id: int  # receives the bulk-create benchmark's rows, so read users stay as loaded
    todos_per_user: int

    @property
    def rows(self) -> int:
        return len(self.user_ids) * self.todos_per_user


def todo_item(n: int, *, described: bool) -> TodoCreate:
    """The n-th todo of a user: every third one completed."""
    description = f"Details of task {n}: check, fix, ship." if described else None
    return TodoCreate(title=f"Task {n}", description=description, completed=n % 3 == 0)


def load(engine: Engine, owner: Engine, users: int, todos_per_user: int) -> Dataset:
    """Create the users, then their todos through `crud.create_todos`, with a progress bar;
    `owner` (the tables' owner) then spreads `created_at` and vacuums."""
    print(f"creating {users + 1} users (each password is Argon2-hashed by crud.create_user)")
    with new_session(engine) as session:
        ids = []
        for n in range(users + 1):
            user = crud.create_user(
                session, UserCreate(email=f"bench{n}@example.com", password=PASSWORD)
            )
            assert user.id is not None
            ids.append(user.id)
    user_ids, bulk_user_id = ids[:-1], ids[-1]
    with (
        new_session(engine) as session,
        tqdm(total=users * todos_per_user, unit=" todos", unit_scale=True, desc="loading") as bar,
    ):
        for batch, start in enumerate(range(0, todos_per_user, LOAD_BATCH)):
            numbers = range(start, min(start + LOAD_BATCH, todos_per_user))
            for user_id in user_ids:
                items = [todo_item(n, described=batch % 2 == 0) for n in numbers]
                bar.update(crud.create_todos(session, user_id, items))
    spread_created_at(owner, users * todos_per_user)
    maintain(owner)
    return Dataset(user_ids, bulk_user_id, todos_per_user)


def spread_created_at(engine: Engine, rows: int) -> None:
    """One UPDATE: row `id` was created (max_id - id) seconds ago, so order by time is by id."""
    now = datetime.now(UTC).replace(microsecond=0)
    with engine.begin() as connection:
        max_id = connection.execute(text("SELECT max(id) FROM todo")).scalar_one()
        if engine.dialect.name == "postgresql":
            result = connection.execute(
                text(
                    "UPDATE todo SET created_at = :now - (:max_id - id) * interval '1 second',"
                    " updated_at = :now - (:max_id - id) * interval '1 second'"
                ),
                {"now": now, "max_id": max_id},
            )
        else:  # the text form SQLAlchemy stores on SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff'
            result = connection.execute(
                text(
                    "UPDATE todo SET created_at = strftime('%Y-%m-%d %H:%M:%S', :now,"
                    " '-' || (:max_id - id) || ' seconds') || '.000000',"
                    " updated_at = strftime('%Y-%m-%d %H:%M:%S', :now,"
                    " '-' || (:max_id - id) || ' seconds') || '.000000'"
                ),
                {"now": now.strftime("%Y-%m-%d %H:%M:%S"), "max_id": max_id},
            )
        if result.rowcount != rows:  # e.g. row security hid rows from this role
            raise SystemExit(f"spreading created_at reached {result.rowcount} of {rows} rows")


def maintain(engine: Engine) -> None:
    """Rewrite away the UPDATE's dead rows and refresh statistics and the visibility map."""
    print("VACUUM FULL + VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM FULL todo"))
        connection.execute(text("VACUUM ANALYZE"))
