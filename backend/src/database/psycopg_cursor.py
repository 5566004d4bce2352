"""The asyncio path's cursor: client-side binding, positioned on the last result.

An operation sends the naming of its user and its statement in one Query
message (`row_security`), which takes PostgreSQL's simple query protocol:
psycopg 3 uses it only for a client-side-binding cursor (`AsyncClientCursor`,
the same binding psycopg2 does, and what SQLAlchemy documents for psycopg 3
behind a pooler). Such a message answers one result per statement, and
psycopg positions the cursor on the first, the `SET`; SQLAlchemy reads the
current one, so the cursor moves to the last result, the statement's own.
"""

from __future__ import annotations

from typing import Any, Self

from psycopg import AsyncClientCursor
from psycopg.abc import Params, Query


class LastResultCursor(AsyncClientCursor[Any]):
    """`AsyncClientCursor` whose `execute` ends on the last statement's result."""

    async def execute(
        self,
        query: Query,
        params: Params | None = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self:
        await super().execute(query, params, prepare=prepare, binary=binary)  # type: ignore[arg-type, misc]  # psycopg's own Query alias
        while self.nextset():
            pass
        return self
