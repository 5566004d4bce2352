"""What every table shares: constraint naming, timestamps, text rules.

The naming convention gives every index and constraint a stable name, so
Alembic migrations and the SQL contract can refer to them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator
from sqlalchemy import text
from sqlmodel import Field, SQLModel

from src.models.types import UTCDateTime, utc_now

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def reject_nul(value: str) -> str:
    # PostgreSQL cannot store U+0000 in text; refuse it before any SQL runs.
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\x00) characters")
    return value


NoNulStr = Annotated[str, AfterValidator(reject_nul)]


class TimestampFields(SQLModel):
    """`created_at` is set once; `updated_at` moves on every ORM or Core UPDATE."""

    created_at: datetime = Field(
        default_factory=utc_now,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"server_default": text("CURRENT_TIMESTAMP")},
    )
    updated_at: datetime = Field(
        default_factory=utc_now,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"server_default": text("CURRENT_TIMESTAMP"), "onupdate": utc_now},
    )
