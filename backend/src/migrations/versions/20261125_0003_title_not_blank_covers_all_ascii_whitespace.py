"""A title of tabs or line breaks is blank too.

0001's rule, length(trim(title)) > 0, trims spaces only, so raw SQL could store
a title made of tabs or newlines, which the application (str.strip) refuses.
The rule now trims every ASCII whitespace character. SQLite rebuilds the table
(batch mode, with foreign keys not enforced so no row referencing a todo goes
with it: `src.database.sqlite_rebuild`); PostgreSQL swaps the constraint in place.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

from alembic import op

from src.database.sqlite_rebuild import rebuilding

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_todo_title_not_blank"
WHITESPACE = " \t\n\r\f\v"
NOT_BLANK = f"length(trim(title, '{WHITESPACE}')) > 0"
SPACES_ONLY_NOT_BLANK = "length(trim(title)) > 0"


def upgrade() -> None:
    _replace_rule(NOT_BLANK)


def downgrade() -> None:
    _replace_rule(SPACES_ONLY_NOT_BLANK)


def _replace_rule(rule: str) -> None:
    bind = op.get_bind()
    guard: AbstractContextManager[None] = (
        rebuilding(bind, ["todo"]) if bind.dialect.name == "sqlite" else nullcontext()
    )
    with guard, op.batch_alter_table("todo") as batch:
        batch.drop_constraint(op.f(NAME), type_="check")
        batch.create_check_constraint(op.f(NAME), rule)
