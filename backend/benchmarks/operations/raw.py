"""The floor: the SQL the package sends, through the bare driver, on the same data.

Each method sends what the package's operation sends (captured with
`before_cursor_execute`; see `plans.py`): the same columns, WHERE, ORDER BY
and LIMIT (limit + 1 rows, as `list_todos` fetches one extra to know whether
there is a next page), RETURNING for writes, and, when the package names the
user to row security, the same `SET LOCAL` in the same Query message on an
autocommit connection (one round trip per call, as the package; a bulk insert of
more than one batch in one explicit transaction). Only the Python layers in
between are missing, which is what the ratio measures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg2
import psycopg2.extras
from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from sqlalchemy.engine import URL

from benchmarks.common.database import connect
from src.crud.search import SQLITE_LOWER
from src.models import TodoCreate

Row = tuple[Any, ...]

# The package's statements as PostgreSQL receives them (psycopg2 placeholders);
# `_for_sqlite` rewrites the few spots where SQLAlchemy renders SQLite differently.
FIRST_PAGE = (
    "SELECT created_at, updated_at, title, description, completed, id, user_id FROM todo"
    " WHERE user_id = %s ORDER BY created_at DESC, id DESC LIMIT %s"
)
FILTERED_PAGE = (
    "SELECT created_at, updated_at, title, description, completed, id, user_id FROM todo"
    " WHERE user_id = %s AND completed = false ORDER BY created_at DESC, id DESC LIMIT %s"
)
KEYSET_PAGE = (
    "SELECT created_at, updated_at, title, description, completed, id, user_id FROM todo"
    " WHERE user_id = %s AND (created_at, id) < (%s, %s)"
    " ORDER BY created_at DESC, id DESC LIMIT %s"
)
OFFSET_PAGE = (
    "SELECT created_at, updated_at, title, description, completed, id, user_id FROM todo"
    " WHERE user_id = %s ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s"
)
COUNT = "SELECT completed, count(*) FROM todo WHERE user_id = %s GROUP BY completed"
# Search (`src.crud.search`): the text lower-cased by ICU's root locale, LIKE's characters escaped.
SEARCH_PAGE = (
    "SELECT created_at, updated_at, title, description, completed, id, user_id FROM todo"
    " WHERE user_id = %s AND (lower(title COLLATE \"und-x-icu\") LIKE %s ESCAPE '\\'"
    " OR lower(description COLLATE \"und-x-icu\") LIKE %s ESCAPE '\\')"
    " ORDER BY created_at DESC, id DESC LIMIT %s"
)
SEARCH_COUNT = (
    "SELECT completed, count(*) FROM todo"
    " WHERE user_id = %s AND (lower(title COLLATE \"und-x-icu\") LIKE %s ESCAPE '\\'"
    " OR lower(description COLLATE \"und-x-icu\") LIKE %s ESCAPE '\\') GROUP BY completed"
)
# PostgreSQL's search reads `ix_todo_search` and the table only for candidates
# (`src.models.search_index`): the page checks each candidate in a LATERAL subquery, the
# count joins; parameters: see `RawDriver._searching`.
INDEXED_SEARCH_PAGE = (
    "SELECT recheck.created_at, recheck.updated_at, recheck.title, recheck.description,"
    " recheck.completed, recheck.id, recheck.user_id FROM todo AS indexed JOIN LATERAL"
    " (SELECT todo.created_at AS created_at, todo.updated_at AS updated_at, todo.title AS title,"
    " todo.description AS description, todo.completed AS completed, todo.id AS id,"
    " todo.user_id AS user_id FROM todo WHERE todo.id = indexed.id AND todo.user_id = %s"
    " AND (lower(todo.title COLLATE \"und-x-icu\") LIKE %s ESCAPE '\\'"
    " OR lower(todo.description COLLATE \"und-x-icu\") LIKE %s ESCAPE '\\')"
    " LIMIT ALL OFFSET 0) AS recheck ON true WHERE indexed.user_id = %s"
    " AND (indexed.search_head LIKE %s ESCAPE '\\' OR indexed.search_head IS NULL)"
    " ORDER BY indexed.created_at DESC, indexed.id DESC LIMIT %s"
)
INDEXED_SEARCH_COUNT = (
    "SELECT todo.completed, count(*) FROM todo AS indexed JOIN todo ON indexed.id = todo.id"
    " WHERE indexed.user_id = %s"
    " AND (indexed.search_head LIKE %s ESCAPE '\\' OR indexed.search_head IS NULL)"
    " AND todo.user_id = %s AND (lower(todo.title COLLATE \"und-x-icu\") LIKE %s ESCAPE '\\'"
    " OR lower(todo.description COLLATE \"und-x-icu\") LIKE %s ESCAPE '\\')"
    " GROUP BY todo.completed"
)
GET = (
    "SELECT created_at, updated_at, title, description, completed, id, user_id FROM todo"
    " WHERE user_id = %s AND id = %s"
)
RENAME = (
    "UPDATE todo SET updated_at = %s, title = %s WHERE user_id = %s AND id = %s"
    " RETURNING created_at, updated_at, title, description, completed, id, user_id"
)
TOGGLE = (
    "UPDATE todo SET updated_at = %s, completed = NOT completed WHERE user_id = %s AND id = %s"
    " RETURNING created_at, updated_at, title, description, completed, id, user_id"
)
INSERT_VALUES = (
    "INSERT INTO todo (created_at, updated_at, title, description, completed, user_id) VALUES %s"
)
INSERT_ROW = (
    "INSERT INTO todo (created_at, updated_at, title, description, completed, user_id)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
TODO_IDS = "SELECT id FROM todo WHERE user_id = %s"
ACT_AS = "SELECT set_config(%s, %s, true)"  # row security's user, for this transaction
BATCH = 1000  # rows per multi-row INSERT, as the package's engine batches them


def named(setting: str | None, user_id: int, sql: str) -> str:
    """`sql` with the naming of its user in front, in one Query message (as the package)."""
    return sql if setting is None else f"SET LOCAL {setting} = '{int(user_id)}'; {sql}"


def _for_postgres(sql: str) -> str:
    return sql


def _for_sqlite(sql: str) -> str:
    """SQLite's spelling: `?`, 0 for false, `unicode_lower` for the search's lower case, and
    the OFFSET its compiler always adds."""
    sql = sql.replace("= false", "= 0").replace("NOT completed", "completed = 0")
    for column in ("title", "description"):
        sql = sql.replace(f'lower({column} COLLATE "und-x-icu")', f"{SQLITE_LOWER}({column})")
    if sql.endswith("LIMIT %s"):
        sql += " OFFSET 0"
    return sql.replace("%s", "?")


def searching(user_id: int, pattern: str, *, page: bool) -> tuple[Any, ...]:
    """PostgreSQL's search parameters in text order: the page checks the table first (in its
    LATERAL subquery), the count the index first."""
    table, index = (user_id, pattern, pattern), (user_id, pattern)
    return (*table, *index) if page else (*index, *table)


class RawDriver:
    """The package's SQL without the package: psycopg2 on PostgreSQL, sqlite3 on SQLite."""

    def __init__(self, url: URL) -> None:
        self.postgres = url.get_backend_name() == "postgresql"
        self.connection: Any = connect(url)
        # Set when the package names the user to row security (with every statement).
        self.act_as_setting: str | None = None
        sql = _for_postgres if self.postgres else _for_sqlite
        self._first, self._filtered = sql(FIRST_PAGE), sql(FILTERED_PAGE)
        self._keyset, self._offset = sql(KEYSET_PAGE), sql(OFFSET_PAGE)
        self._count, self._get = sql(COUNT), sql(GET)
        self._search, self._search_count = sql(SEARCH_PAGE), sql(SEARCH_COUNT)
        if self.postgres:
            self._search = sql(INDEXED_SEARCH_PAGE)
            self._search_count = sql(INDEXED_SEARCH_COUNT)
        self._rename, self._toggle = sql(RENAME), sql(TOGGLE)
        self._todo_ids = sql(TODO_IDS)

    def _commit(self) -> None:
        if not self.postgres:  # PostgreSQL: autocommit, the statement ended its transaction
            self.connection.commit()

    def _rows(self, user_id: int, sql: str, *parameters: Any) -> list[Row]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(self._named(user_id, sql), parameters)
            rows: list[Row] = cursor.fetchall()
            return rows
        finally:
            cursor.close()

    def _named(self, user_id: int, sql: str) -> str:
        return named(self.act_as_setting, user_id, sql) if self.postgres else sql

    def _write(self, user_id: int, sql: str, *parameters: Any) -> Row | None:
        cursor = self.connection.cursor()
        try:
            cursor.execute(self._named(user_id, sql), parameters)
            row: Row | None = cursor.fetchone()
        finally:
            cursor.close()
        self._commit()
        return row

    def _now(self) -> Any:
        now = datetime.now(UTC)
        return now if self.postgres else now.replace(tzinfo=None).isoformat(" ")

    def first_page(self, user_id: int, limit: int = 50) -> list[Row]:
        return self._rows(user_id, self._first, user_id, limit + 1)

    def filtered_page(self, user_id: int, limit: int = 50) -> list[Row]:
        """Open todos only (`completed=False`), as the package renders the literal."""
        return self._rows(user_id, self._filtered, user_id, limit + 1)

    def keyset_page(self, user_id: int, after: tuple[Any, int], limit: int = 50) -> list[Row]:
        return self._rows(user_id, self._keyset, user_id, after[0], after[1], limit + 1)

    def offset_page(self, user_id: int, offset: int, limit: int = 50) -> list[Row]:
        return self._rows(user_id, self._offset, user_id, limit + 1, offset)

    def count(self, user_id: int) -> list[Row]:
        return self._rows(user_id, self._count, user_id)

    def search_page(self, user_id: int, pattern: str, limit: int = 50) -> list[Row]:
        """The first page of a search; `pattern` is the LIKE pattern the package binds."""
        parameters = searching(user_id, pattern, page=True) if self.postgres else None
        table = (user_id, pattern, pattern)
        return self._rows(user_id, self._search, *(parameters or table), limit + 1)

    def search_count(self, user_id: int, pattern: str) -> list[Row]:
        parameters = searching(user_id, pattern, page=False) if self.postgres else None
        table = (user_id, pattern, pattern)
        return self._rows(user_id, self._search_count, *(parameters or table))

    def get(self, user_id: int, todo_id: int) -> Row | None:
        cursor = self.connection.cursor()
        try:
            cursor.execute(self._named(user_id, self._get), (user_id, todo_id))
            row: Row | None = cursor.fetchone()
            return row
        finally:
            cursor.close()

    def rename(self, user_id: int, todo_id: int, title: str) -> Row | None:
        return self._write(user_id, self._rename, self._now(), title, user_id, todo_id)

    def toggle(self, user_id: int, todo_id: int) -> Row | None:
        return self._write(user_id, self._toggle, self._now(), user_id, todo_id)

    def bulk_insert(self, user_id: int, items: list[TodoCreate]) -> int:
        """One multi-row INSERT per 1,000 rows (as SQLAlchemy batches them); more than one
        batch between BEGIN and COMMIT."""
        now = self._now()
        rows = [(now, now, i.title, i.description, i.completed, user_id) for i in items]
        cursor = self.connection.cursor()
        try:
            if not self.postgres:
                cursor.executemany(INSERT_ROW, rows)
            else:
                several = len(rows) > BATCH
                if several:
                    cursor.execute("BEGIN")
                sql = self._named(user_id, INSERT_VALUES)
                psycopg2.extras.execute_values(cursor, sql, rows, page_size=BATCH)
                if several:
                    cursor.execute("COMMIT")
        finally:
            cursor.close()
        self._commit()
        return len(rows)

    # Set-up queries, never timed.

    def boundary(self, user_id: int, depth: int) -> tuple[Any, int]:
        """(created_at, id) of the `depth`-th newest todo: where the page after it starts."""
        rows = self._rows(user_id, self._offset, user_id, 1, depth - 1)
        self.end()
        return rows[0][0], rows[0][5]

    def todo_ids(self, user_id: int) -> list[int]:
        ids = [row[0] for row in self._rows(user_id, self._todo_ids, user_id)]
        self.end()
        return ids

    def end(self) -> None:
        """End any transaction still open (an EXPLAIN's, or SQLite's)."""
        if not self.postgres:
            self.connection.rollback()
        elif self.connection.get_transaction_status() != TRANSACTION_STATUS_IDLE:
            cursor = self.connection.cursor()
            cursor.execute("ROLLBACK")
            cursor.close()

    def close(self) -> None:
        self.connection.close()
