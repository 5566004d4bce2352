"""What lets a search on PostgreSQL examine an index instead of every one of the user's rows.

Row security is forced on `todo`, and PostgreSQL tests a condition that is not
leakproof (`LIKE`, `lower()`) only after the policy, never inside an index, so
a trigram index is never used by the application role and a rare word read
all of a user's rows from the table: 13x the first page for 10,000 todos
(research.md, section 22). The planner may still evaluate such a condition
as a filter on the entries of an index-only scan, after the index condition
(the user) and the policy. So the table keeps, per row, the searched text
already lowered (`search_head`: title, a line break, description, lowered
as the search lowers them), and an index on the page order carries it
(`INCLUDE`): a search reads the user's index entries, keeps those whose text
matches, and visits the table only for them, where the exact condition of
`src.crud.search` is checked again (the joined text can match across the
line break; the exact condition cannot).

`search_head` is NULL when the lowered text exceeds `MAX_HEAD_BYTES`: a
B-tree entry holds at most about 2,700 bytes, and a description of 2,000
characters in a three-byte script is 6,000. Such a row is always a candidate
and checked on the table, so it is found like any other. Parallel plans are
switched off for the table: for a common word the planner chose a parallel
index-only scan at 7 to 30 times the cost of the plain one, and every query
of this package reads one user's rows, which a parallel scan never helps.

SQLite has no row security, nor the need: its search is unchanged. The
migration `0009` holds a frozen copy of this SQL; `create_all` runs this one.
Alembic's comparison leaves the column and the index alone
(`include_in_comparison`): they are PostgreSQL's, like the policies;
`missing_search_objects` checks that they are there.

The lowered text is computed when a row is written. If the server's ICU
library changes its lower-case mapping (a major ICU upgrade), rows written
before keep the old lowering; `UPDATE todo SET title = title` (as the
maintenance role, in batches) recomputes it. Updates of title or
description are no longer HOT updates (the index holds the text).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DDL, Connection, Table, event, text

SEARCH_HEAD = "search_head"
SEARCH_INDEX = "ix_todo_search"
MAX_HEAD_BYTES = 2400
LOWERED_TEXT = (
    "lower(title COLLATE \"und-x-icu\") || E'\\n' || "
    "coalesce(lower(description COLLATE \"und-x-icu\"), '')"
)

SEARCH_INDEX_DDL = (
    f"ALTER TABLE todo ADD COLUMN {SEARCH_HEAD} text GENERATED ALWAYS AS "
    f"(CASE WHEN octet_length({LOWERED_TEXT}) <= {MAX_HEAD_BYTES} THEN {LOWERED_TEXT} END) STORED",
    f"CREATE INDEX {SEARCH_INDEX} ON todo (user_id, created_at, id) "
    f"INCLUDE (completed, {SEARCH_HEAD})",
    "ALTER TABLE todo SET (parallel_workers = 0)",
)


def attach_search_index(table: Table) -> None:
    """Have `create_all` add the column and the index after creating `table` on PostgreSQL."""
    for statement in SEARCH_INDEX_DDL:
        ddl = DDL(statement).execute_if(dialect="postgresql")  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated
        event.listen(table, "after_create", ddl)


def is_search_index_object(table: str | None, name: str | None, type_: str) -> bool:
    """Whether Alembic is comparing the search column or index, which the models do not hold."""
    if table != "todo":
        return False
    return (type_ == "column" and name == SEARCH_HEAD) or (
        type_ == "index" and name == SEARCH_INDEX
    )


def include_in_comparison(
    item: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any
) -> bool:
    """Alembic's `include_object`: everything but the search column and index of `todo`.

    Leaving them out also hides their absence from Alembic: `missing_search_objects`
    is the check that they are there (`schema_differences` runs both).
    """
    table = getattr(getattr(item, "table", None), "name", None)
    return not is_search_index_object(table, name, type_)


def missing_search_objects(connection: Connection) -> list[str]:
    """The search column, index or table option a PostgreSQL database lacks (empty: none)."""
    if connection.dialect.name != "postgresql":
        return []
    found = connection.execute(
        text(
            """SELECT
                 EXISTS (SELECT FROM information_schema.columns WHERE table_schema = 'public'
                         AND table_name = 'todo' AND column_name = :column
                         AND is_generated = 'ALWAYS'),
                 to_regclass(:index) IS NOT NULL,
                 coalesce((SELECT 'parallel_workers=0' = ANY(reloptions) FROM pg_class
                           WHERE oid = to_regclass('todo')), false)"""
        ),
        {"column": SEARCH_HEAD, "index": SEARCH_INDEX},
    ).one()
    wanted = (f"todo.{SEARCH_HEAD} (generated)", SEARCH_INDEX, "todo (parallel_workers = 0)")
    return [what for what, present in zip(wanted, found, strict=True) if not present]
