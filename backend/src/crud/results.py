"""What a statement's result says about the rows it touched."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def rows_matched(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched.

    `Session.execute` is typed as returning a plain `Result`; for DML it is a
    `CursorResult`, which carries the driver's row count.
    """
    return int(cast(CursorResult[Any], result).rowcount)
