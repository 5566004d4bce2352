"""The `todo` table, owned by exactly one user, and its input/output schemas.

The composite indexes lead with `user_id` because every query is scoped to
one user; they end in `(created_at, id)` so keyset pages and per-status counts
are answered from the index alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    PrivateAttr,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlalchemy import CheckConstraint, Index, String, false
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from src.models.base import INVISIBLE_CHARACTERS, TimestampFields, reject_nul, require_visible
from src.models.json_schema import VISIBLE_CHARACTER, Documented, omitted_not_null, refused_text
from src.models.row_security import attach_row_security
from src.models.search_index import attach_search_index
from src.models.types import BigIntegerKey

TITLE_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 2000

Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH),
    AfterValidator(reject_nul),
    AfterValidator(require_visible),
    Documented(
        {
            "pattern": VISIBLE_CHARACTER,
            "not": {"pattern": refused_text(TITLE_MAX_LENGTH)},
            "description": f"Leading and trailing whitespace is removed; 1 to {TITLE_MAX_LENGTH} "
            "characters remain, at least one of them visible (not a control, format, "
            "separator or other invisible character); no NUL (U+0000) anywhere.",
        },
        untrue_of_input=("maxLength",),
    ),
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=DESCRIPTION_MAX_LENGTH),
    AfterValidator(reject_nul),
    Documented(
        {
            "not": {"pattern": refused_text(DESCRIPTION_MAX_LENGTH)},
            "description": "Leading and trailing whitespace is removed; at most "
            f"{DESCRIPTION_MAX_LENGTH} characters remain; no NUL (U+0000) anywhere.",
        },
        untrue_of_input=("maxLength",),
    ),
]


class TodoBase(SQLModel):
    title: Title = Field(sa_type=String(TITLE_MAX_LENGTH), nullable=False)
    description: Description | None = Field(
        default=None, sa_type=String(DESCRIPTION_MAX_LENGTH), nullable=True
    )
    completed: StrictBool = Field(
        default=False, nullable=False, sa_column_kwargs={"server_default": false()}
    )


class Todo(TodoBase, TimestampFields, table=True):
    __table_args__ = (
        # The same rule in SQL, on both backends: trim every invisible character.
        CheckConstraint(
            f"length(trim(title, '{INVISIBLE_CHARACTERS}')) > 0", name="title_not_blank"
        ),
        CheckConstraint(f"length(title) <= {TITLE_MAX_LENGTH}", name="title_length"),
        CheckConstraint(
            f"length(description) <= {DESCRIPTION_MAX_LENGTH}", name="description_length"
        ),
        Index(None, "user_id", "created_at", "id"),
        Index(None, "user_id", "completed", "created_at", "id"),
        {"sqlite_autoincrement": True},  # ids are never reused (data-model.md)
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntegerKey)
    user_id: int = Field(
        foreign_key="user.id", ondelete="CASCADE", nullable=False, sa_type=BigIntegerKey
    )


attach_row_security(Todo.__table__)  # type: ignore[attr-defined]  # SQLModel does not declare it
attach_search_index(Todo.__table__)  # type: ignore[attr-defined]


class TodoCreate(TodoBase):  # noqa: PLW1641  unhashable, as every mutable pydantic model
    model_config = SQLModelConfig(extra="forbid", strict=True, revalidate_instances="always")

    # The very objects its fields held when it was last validated. `create_todos`
    # trusts an item whose fields still hold them (validating 10,000 items again
    # was a tenth of a bulk create) and validates any other: one built with
    # `model_construct`, or changed after validation.
    _validated: tuple[object, ...] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _remember_validated_values(self) -> TodoCreate:
        self._validated = (self.title, self.description, self.completed)
        return self

    def __eq__(self, other: object) -> bool:
        """Equal when the fields are: the private record of validation does not count."""
        if type(other) is not type(self):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    def holds_validated_values(self) -> bool:
        """Whether every field still holds the object validation produced (compared by identity,
        so `completed = 1` or a new string is validated again, not trusted)."""
        # Read the private record directly: `self._validated` goes through pydantic's
        # __getattr__, most of this check's cost over 10,000 items.
        seen = (self.__pydantic_private__ or {}).get("_validated")
        fields = self.__dict__  # a `model_construct` item may lack a field: never AttributeError
        now = (fields.get("title"), fields.get("description"), fields.get("completed"))
        return seen is not None and all(a is b for a, b in zip(seen, now, strict=True))


class TodoUpdate(SQLModel):
    """A partial update: only the fields sent change; `title` and `completed` cannot be null."""

    model_config = SQLModelConfig(
        extra="forbid", strict=True, json_schema_extra=omitted_not_null("title", "completed")
    )

    # None is only the "not sent" default, refused when sent (below), and not published.
    title: Title | None = None
    description: Description | None = None
    completed: StrictBool | None = None

    @field_validator("title", "completed", mode="before")
    @classmethod
    def _not_null_when_sent(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be omitted but not set to null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, validated again (an instance may skip validation)."""
        sent = self.model_dump(exclude_unset=True)
        return TodoUpdate.model_validate(sent).model_dump(exclude_unset=True)


class TodoRead(TodoBase):
    id: int
    user_id: int
    created_at: datetime
    updated_at: datetime
