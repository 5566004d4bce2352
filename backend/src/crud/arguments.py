"""Argument rules shared by every operation, checked before any SQL runs.

Operations are wrapped in pydantic's `validate_call` in strict mode: a wrong
type, an id out of range or a limit too large raises `ValidationError` naming
the argument and the rule.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

MAX_ID = 2**63 - 1  # PostgreSQL BIGINT
MAX_PAGE_SIZE = 200

RowId = Annotated[int, Field(gt=0, le=MAX_ID)]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str, Field(min_length=1, max_length=512)]
EmailLookup = Annotated[str, Field(max_length=320)]

STRICT_ARGUMENTS = ConfigDict(strict=True, arbitrary_types_allowed=True)
