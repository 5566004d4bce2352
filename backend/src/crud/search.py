"""Todo search: the caller's todos whose title or description contains a text.

The text is trimmed of surrounding whitespace, then must hold 1 to
`SEARCH_MAX_LENGTH` characters, a visible one among them, no NUL and no lone
surrogate; anything else is a `ValidationError` naming `search`. A blank text
is refused, not read as "no search": `search=None` lists everything, and one
input has one meaning.

Matching is literal (`%`, `_` and `\\` are characters to find, never
patterns) and case-insensitive in one sense on both backends: both sides
after Unicode's full default lower-case mapping, Python's `str.lower()`.
"MILCH" finds "Milch" and "ÄPFEL" "äpfel"; "İ" lowers to "i" + U+0307 and a
capital sigma ending a word to the final sigma. It is lower case, not case
folding: "straße" does not find "STRASSE", nor the final sigma the medial one.
PostgreSQL lowers with ICU's root locale, `lower(x COLLATE "und-x-icu")`,
named so the database's own collation never changes a result (glibc maps
"İ" to "i" and never writes a final sigma; the "C" locale lowers ASCII only);
ICU's mapping equals Python's on every code point (a test holds them equal).
SQLite lowers ASCII only, so its connection gets `unicode_lower`, Python's.
The search text is lowered here, in Python, so texts that differ only in
letter case are one query: the same results, counts and cursors.

On PostgreSQL row security hides rows with a policy, and the planner refuses
to test a non-leakproof condition (LIKE, lower) inside an index before the
policy has run, so a trigram index is never used by the application role
(research.md, "Search"). What it may do is test it on the entries of an
index-only scan: `ix_todo_search` carries each row's lowered text
(`src.models.search_index`), the page scans it in page order and reads the
table only for candidates, where `MATCHES` decides. On SQLite the match is
a filter on the user's own keyset scan; both stop once a page is full.

On SQLite the statements are `statements.py`'s with the match added; on
PostgreSQL they read the index and the table as described above. `owned`
scopes every part of each one to its user.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError
from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    Select,
    bindparam,
    column,
    func,
    or_,
    select,
    table,
    true,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String
from sqlmodel import col

from src.crud.statements import COUNT, TODO_TABLE, owned, page_statement
from src.models import Todo
from src.models.base import reject_nul, require_visible
from src.models.json_schema import VISIBLE_CHARACTER, Documented, trimmed_text_pattern
from src.models.search_index import SEARCH_HEAD
from src.models.user import is_unicode_text

SEARCH_MAX_LENGTH = 200
ESCAPE = "\\"
LOWER_COLLATION = "und-x-icu"  # ICU's root locale: every ICU-enabled PostgreSQL has it
SQLITE_LOWER = "unicode_lower"  # the function a SQLite connection is given
_SQLITE_READY = "todo.unicode_lower"  # Connection.info: SQLITE_LOWER is defined on it


def _require_unicode(value: str) -> str:
    if not is_unicode_text(value):
        raise PydanticCustomError("string_unicode", "must be Unicode text (no lone surrogates)")
    return value


SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=SEARCH_MAX_LENGTH),
    AfterValidator(reject_nul),
    AfterValidator(_require_unicode),
    AfterValidator(require_visible),
    Documented(
        {
            "pattern": trimmed_text_pattern(1, SEARCH_MAX_LENGTH),
            "allOf": [{"pattern": VISIBLE_CHARACTER}],
            "description": "Todos whose title or description contains this text, in any "
            f"letter case. Leading and trailing whitespace is removed; 1 to {SEARCH_MAX_LENGTH} "
            "characters remain, at least one of them visible; no NUL (U+0000) anywhere. "
            "`%`, `_` and `\\` are matched as themselves.",
        },
        untrue_of_input=("maxLength",),
    ),
]


def search_key(search: str) -> str:
    """The validated search text as the query uses it (lower case): what a cursor is bound to."""
    return search.lower()


def like_pattern(key: str) -> str:
    """`%key%` with LIKE's own characters escaped, so every character matches only itself."""
    escaped = key.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return f"%{escaped}%"


class lowered(FunctionElement[str]):  # noqa: N801  lower case, as SQL functions are named
    """A text column in the search's lower case, as SQL for the backend it runs on."""

    type = String()
    name = "lowered"
    inherit_cache = True


@compiles(lowered, "postgresql")
def _lowered_on_postgresql(element: lowered, compiler: SQLCompiler, **kw: Any) -> str:
    return f'lower({compiler.process(element.clauses, **kw)} COLLATE "{LOWER_COLLATION}")'


@compiles(lowered, "sqlite")
def _lowered_on_sqlite(element: lowered, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


def _contains(column: ColumnExpressionArgument[str | None]) -> ColumnElement[bool]:
    return lowered(column).like(bindparam("search_pattern"), escape=ESCAPE)


# A NULL description matches nothing; the title is never NULL.
MATCHES = or_(_contains(col(Todo.title)), _contains(col(Todo.description)))
SEARCH_COUNT = COUNT.where(MATCHES)

# PostgreSQL: the index `ix_todo_search` read as a table of its own (`src.models.search_index`).
# An entry is a candidate when its lowered text holds the pattern or was too long to keep;
# the todo row is read only for candidates, and `MATCHES` decides there.
INDEXED = table(
    "todo",
    column("id", TODO_TABLE.c.id.type),
    column("user_id", TODO_TABLE.c.user_id.type),
    column("created_at", TODO_TABLE.c.created_at.type),
    column("completed", TODO_TABLE.c.completed.type),
    column(SEARCH_HEAD, String()),
).alias("indexed")
_HEAD = INDEXED.c[SEARCH_HEAD]
# A NULL head (a text too long to keep) is always a candidate.
CANDIDATE = or_(_HEAD.like(bindparam("search_pattern"), escape=ESCAPE), _HEAD.is_(None))
# The table, read for one candidate at a time: a LATERAL subquery that OFFSET 0 keeps the
# planner from merging into a join. Left free, it estimated a LIKE '%...%' from sampled
# statistics, once expected 658 matches where there were 5,000 (after bulk inserts), and
# fetched and sorted every candidate, or scanned the user's rows first, instead of walking
# the index in page order and stopping at a full page: 6 to 11 ms instead of 1 to 2. With
# the table behind a per-candidate subquery, every plan pays the same lookups per candidate,
# and the walk in page order, which needs no sort and may stop early, is the cheapest whatever
# the estimate; a rare word reads the user's index entries either way.
_RECHECKED = (
    select(TODO_TABLE)
    .where(col(Todo.id) == INDEXED.c.id, owned(MATCHES))
    .offset(0)
    .lateral("recheck")
)
_FOUND = aliased(Todo, _RECHECKED)
_READ_CANDIDATES = INDEXED.join(TODO_TABLE, INDEXED.c.id == col(Todo.id))
INDEXED_SEARCH_COUNT = (
    select(col(Todo.completed), func.count())
    .select_from(_READ_CANDIDATES)
    .where(owned(CANDIDATE, of=INDEXED), owned(MATCHES))
    .group_by(col(Todo.completed))
)


def search_count_statement(*, indexed: bool) -> Select[bool, int]:
    """`count_todos`'s statement with a search: through the index on PostgreSQL."""
    return INDEXED_SEARCH_COUNT if indexed else SEARCH_COUNT


@functools.cache
def search_page_statement(
    *, filtered: bool, after_cursor: bool, newest_first: bool, indexed: bool = False
) -> Select[Todo]:
    """`page_statement` for the same filter, cursor and order, keeping only matching todos.

    `indexed` (PostgreSQL): the same page, found by scanning `ix_todo_search` in the
    page's order and reading the table only for its candidates.
    """
    if not indexed:
        page = page_statement(
            filtered=filtered, after_cursor=after_cursor, newest_first=newest_first
        )
        return page.where(MATCHES)
    where: list[ColumnElement[bool]] = [CANDIDATE]
    if filtered:
        where.append(INDEXED.c.completed == bindparam("completed"))
    key = tuple_(INDEXED.c.created_at, INDEXED.c.id)
    if after_cursor:
        boundary = tuple_(
            bindparam("after_created_at", type_=TODO_TABLE.c.created_at.type),
            bindparam("after_id", type_=TODO_TABLE.c.id.type),
        )
        where.append(key < boundary if newest_first else key > boundary)
    order = (
        (INDEXED.c.created_at.desc(), INDEXED.c.id.desc())
        if newest_first
        else (INDEXED.c.created_at.asc(), INDEXED.c.id.asc())
    )
    return (
        select(_FOUND)
        .select_from(INDEXED.join(_RECHECKED, true()))
        .where(owned(*where, of=INDEXED))
        .order_by(*order)
        .limit(bindparam("row_limit"))
        .execution_options(populate_existing=True)
    )


def unicode_lower(value: object) -> object:
    """SQLite's `unicode_lower`: Python's lower case for text; anything else (NULL) as it is."""
    return value.lower() if isinstance(value, str) else value


def give_sqlite_lower(dbapi_connection: Any) -> None:
    """Define `unicode_lower` on a SQLite connection (sqlite3, or SQLAlchemy's aiosqlite
    adapter, whose `create_function` waits for the driver's thread)."""
    dbapi_connection.create_function(SQLITE_LOWER, 1, unicode_lower, deterministic=True)


def prepare_connection(session: Session) -> None:
    """On SQLite, define `unicode_lower` on the connection the search will run on.

    Here rather than in the engine factory, so a search works on any SQLite
    engine a caller brings; once per pooled connection. PostgreSQL has what it
    needs built in: nothing is done there, and no connection is taken early.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    if not connection.info.get(_SQLITE_READY):
        give_sqlite_lower(connection.connection.dbapi_connection)
        connection.info[_SQLITE_READY] = True
