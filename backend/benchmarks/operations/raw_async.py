"""The floor on the asyncio path: the package's SQL through psycopg 3's `AsyncConnection`.

The asyncio engine (`src.database.async_connection`) drives psycopg 3 with
server-side prepared statements off (`prepare_threshold=None`); this twin
connects the same way and sends the statements of `raw.py` (the same text as
the package's, captured on the blocking path, and the same on this one:
`check_equivalence_async` compares the rows), with the same `SET LOCAL` naming
the user to row security in the same Query message, on an autocommit connection.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from benchmarks.operations.raw import (
    COUNT,
    FILTERED_PAGE,
    FIRST_PAGE,
    GET,
    INDEXED_SEARCH_COUNT,
    INDEXED_SEARCH_PAGE,
    KEYSET_PAGE,
    OFFSET_PAGE,
    RENAME,
    TOGGLE,
    Row,
    named,
    searching,
)
from src.models import TodoCreate

INSERT_HEAD = (
    "INSERT INTO todo (created_at, updated_at, title, description, completed, user_id) VALUES "
)
INSERT_PAGE = 1000  # rows per multi-row INSERT, as the package's engine batches them


class AsyncRawDriver:
    """psycopg 3, asynchronous, one connection; PostgreSQL only."""

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self.connection = connection
        self.act_as_setting: str | None = None  # as `RawDriver.act_as_setting`

    @classmethod
    async def connect(cls, url: URL) -> AsyncRawDriver:
        arguments = url.translate_connect_args(username="user", database="dbname")
        parameters: dict[str, Any] = {**arguments, **url.query}
        connection = await psycopg.AsyncConnection.connect(
            **parameters,
            prepare_threshold=None,
            autocommit=True,  # each Query message its own transaction, as the package
            cursor_factory=psycopg.AsyncClientCursor,  # two statements in one message
        )
        return cls(connection)

    async def _execute(self, user_id: int, sql: str, parameters: Any) -> psycopg.AsyncCursor[Any]:
        """Run `sql` as `user_id` in one message; the cursor ends on the statement's result."""
        cursor = self.connection.cursor()
        await cursor.execute(named(self.act_as_setting, user_id, sql), parameters)
        while cursor.nextset():
            pass
        return cursor

    async def _rows(self, user_id: int, sql: str, *parameters: Any) -> list[Row]:
        async with await self._execute(user_id, sql, parameters) as cursor:
            return await cursor.fetchall()

    async def _write(self, user_id: int, sql: str, *parameters: Any) -> Row | None:
        async with await self._execute(user_id, sql, parameters) as cursor:
            return await cursor.fetchone()

    async def first_page(self, user_id: int, limit: int = 50) -> list[Row]:
        return await self._rows(user_id, FIRST_PAGE, user_id, limit + 1)

    async def filtered_page(self, user_id: int, limit: int = 50) -> list[Row]:
        return await self._rows(user_id, FILTERED_PAGE, user_id, limit + 1)

    async def keyset_page(self, user_id: int, after: tuple[Any, int], limit: int = 50) -> list[Row]:
        return await self._rows(user_id, KEYSET_PAGE, user_id, after[0], after[1], limit + 1)

    async def offset_page(self, user_id: int, offset: int, limit: int = 50) -> list[Row]:
        return await self._rows(user_id, OFFSET_PAGE, user_id, limit + 1, offset)

    async def count(self, user_id: int) -> list[Row]:
        return await self._rows(user_id, COUNT, user_id)

    async def search_page(self, user_id: int, pattern: str, limit: int = 50) -> list[Row]:
        parameters = searching(user_id, pattern, page=True)
        return await self._rows(user_id, INDEXED_SEARCH_PAGE, *parameters, limit + 1)

    async def search_count(self, user_id: int, pattern: str) -> list[Row]:
        parameters = searching(user_id, pattern, page=False)
        return await self._rows(user_id, INDEXED_SEARCH_COUNT, *parameters)

    async def get(self, user_id: int, todo_id: int) -> Row | None:
        return await self._write(user_id, GET, user_id, todo_id)

    async def rename(self, user_id: int, todo_id: int, title: str) -> Row | None:
        now = datetime.now(UTC)
        return await self._write(user_id, RENAME, now, title, user_id, todo_id)

    async def toggle(self, user_id: int, todo_id: int) -> Row | None:
        return await self._write(user_id, TOGGLE, datetime.now(UTC), user_id, todo_id)

    async def bulk_insert(self, user_id: int, items: list[TodoCreate]) -> int:
        """Multi-row INSERTs of `INSERT_PAGE` rows each, then COMMIT (what the package sends)."""
        now = datetime.now(UTC)
        rows = [(now, now, i.title, i.description, i.completed, user_id) for i in items]
        several = len(rows) > INSERT_PAGE
        async with self.connection.cursor() as cursor:
            if several:
                await cursor.execute("BEGIN")
            for start in range(0, len(rows), INSERT_PAGE):
                page = rows[start : start + INSERT_PAGE]
                sql = INSERT_HEAD + ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(page))
                await cursor.execute(
                    named(self.act_as_setting, user_id, sql),
                    [value for row in page for value in row],
                )
            if several:
                await cursor.execute("COMMIT")
        return len(rows)

    async def end(self) -> None:
        """End any transaction still open (autocommit leaves none after a call)."""
        if self.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            await self.connection.execute("ROLLBACK")

    async def close(self) -> None:
        await self.connection.close()
