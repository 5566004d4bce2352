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

# What shows nothing on screen: control, format and separator characters (Cc,
# Cf, Zs, Zl, Zp, except the visible Arabic number signs), the other default
# ignorable code points (Hangul fillers, variation selectors, tags, soft
# hyphen) and the braille blank, as of Unicode 14. Frozen here, not computed
# from `unicodedata`, so the database CHECK built from it never drifts.
INVISIBLE_RANGES = (
    (0x01, 0x20), (0x7F, 0xA0), (0xAD, 0xAD), (0x34F, 0x34F), (0x61C, 0x61C),
    (0x115F, 0x1160), (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x2000, 0x200F), (0x2028, 0x202F), (0x205F, 0x2064), (0x2066, 0x206F),
    (0x2800, 0x2800), (0x3000, 0x3000), (0x3164, 0x3164), (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
    (0xE0100, 0xE01EF),
)  # fmt: skip
INVISIBLE_CHARACTERS = "".join(
    chr(c) for low, high in INVISIBLE_RANGES for c in range(low, high + 1)
)


def require_visible(value: str) -> str:
    """Refuse text made only of invisible characters (ZWSP, BOM, Hangul filler, braille blank)."""
    if not value.strip(INVISIBLE_CHARACTERS):
        raise ValueError("must contain a visible character")
    return value


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
