"""Initial schema: user and todo.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY auto-increments.
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            name,
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        )
        for name in ("created_at", "updated_at")
    ]


def upgrade() -> None:
    op.create_table(
        "user",
        *timestamps(),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("id", KEY, nullable=False),
        sa.Column("hashed_password", sa.String(length=255), nullable=False),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_user_email_lowercase")),
        sa.CheckConstraint(
            "hashed_password LIKE '$argon2%'", name=op.f("ck_user_hashed_password_is_hash")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("email", name=op.f("uq_user_email")),
    )
    op.create_table(
        "todo",
        *timestamps(),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("id", KEY, nullable=False),
        sa.Column("user_id", KEY, nullable=False),
        sa.CheckConstraint("length(trim(title)) > 0", name=op.f("ck_todo_title_not_blank")),
        sa.CheckConstraint("length(title) <= 255", name=op.f("ck_todo_title_length")),
        sa.CheckConstraint("length(description) <= 2000", name=op.f("ck_todo_description_length")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_todo_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo")),
    )
    op.create_index(op.f("ix_todo_user_id_created_at_id"), "todo", ["user_id", "created_at", "id"])
    op.create_index(
        op.f("ix_todo_user_id_completed_created_at_id"),
        "todo",
        ["user_id", "completed", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_todo_user_id_completed_created_at_id"), table_name="todo")
    op.drop_index(op.f("ix_todo_user_id_created_at_id"), table_name="todo")
    op.drop_table("todo")
    op.drop_table("user")
