"""Ids are never reused: SQLite's user and todo tables get AUTOINCREMENT.

Without AUTOINCREMENT SQLite gives a new row the highest id in the table plus
one, so deleting the newest user hands that user's id to the next one to
register, and a token still carrying the old id reaches the new user's todos.
AUTOINCREMENT keeps the highest id ever used in `sqlite_sequence` instead.
PostgreSQL's BIGSERIAL sequences never reuse ids: nothing changes there.

SQLite cannot add AUTOINCREMENT in place, so both tables are rebuilt, keeping
every row and id, by SQLite's own procedure (`src.database.sqlite_rebuild`):
foreign keys not enforced, so dropping the old tables deletes no row of any
table that references them. The new `todo` is made to reference the new
`user`; renaming the new `user` rewrites that reference (SQLite 3.26+,
legacy_alter_table off).

Copying the rows with their ids sets `sqlite_sequence` to the highest id
present. An id deleted before this upgrade, above every id left, is not
recorded anywhere and can be given once more; rotate the service's token
signing key when upgrading so no token of a deleted user survives.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from src.database.sqlite_rebuild import rebuilding

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_COLUMNS = ("created_at", "updated_at", "email", "id", "hashed_password")
TODO_COLUMNS = ("created_at", "updated_at", "title", "description", "completed", "id", "user_id")
KNOWN_HASH = (
    "hashed_password LIKE '$argon2%' OR hashed_password LIKE '$2a$%' "
    "OR hashed_password LIKE '$2b$%' OR hashed_password LIKE '$2y$%'"
)
INVISIBLE_RANGES = (
    (0x01, 0x20), (0x7F, 0xA0), (0xAD, 0xAD), (0x34F, 0x34F), (0x61C, 0x61C),
    (0x115F, 0x1160), (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x2000, 0x200F), (0x2028, 0x202F), (0x205F, 0x2064), (0x2066, 0x206F),
    (0x2800, 0x2800), (0x3000, 0x3000), (0x3164, 0x3164), (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
    (0xE0100, 0xE01EF),
)  # fmt: skip
INVISIBLE = "".join(chr(c) for low, high in INVISIBLE_RANGES for c in range(low, high + 1))
VISIBLE_TITLE = f"length(trim(title, '{INVISIBLE}')) > 0"


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild(autoincrement=True)


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    """Rebuild both tables, keeping every row that references them."""
    with rebuilding(op.get_bind(), ["user", "todo"]):  # and their indexes, views, triggers
        _create_user("user_new", autoincrement=autoincrement)
        _copy_rows("user", "user_new", USER_COLUMNS)
        _create_todo("todo_new", parent="user_new", autoincrement=autoincrement)
        _copy_rows("todo", "todo_new", TODO_COLUMNS)
        op.drop_table("todo")
        op.drop_table("user")
        op.rename_table("user_new", "user")  # todo_new's foreign key follows the new name
        op.rename_table("todo_new", "todo")


def _copy_rows(source: str, target: str, columns: tuple[str, ...]) -> None:
    """Every row, ids included: INSERT INTO target (...) SELECT ... FROM source."""
    read = sa.table(source, *(sa.column(name) for name in columns))
    write = sa.table(target, *(sa.column(name) for name in columns))
    op.execute(sa.insert(write).from_select(columns, sa.select(*read.c)))


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            name,
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        )
        for name in ("created_at", "updated_at")
    ]


def _create_user(name: str, *, autoincrement: bool) -> None:
    op.create_table(
        name,
        *_timestamps(),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hashed_password", sa.String(length=255), nullable=False),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_user_email_lowercase")),
        sa.CheckConstraint(KNOWN_HASH, name=op.f("ck_user_hashed_password_is_hash")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("email", name=op.f("uq_user_email")),
        sqlite_autoincrement=autoincrement,
    )


def _create_todo(name: str, *, parent: str, autoincrement: bool) -> None:
    op.create_table(
        name,
        *_timestamps(),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(VISIBLE_TITLE, name=op.f("ck_todo_title_not_blank")),
        sa.CheckConstraint("length(title) <= 255", name=op.f("ck_todo_title_length")),
        sa.CheckConstraint("length(description) <= 2000", name=op.f("ck_todo_description_length")),
        sa.ForeignKeyConstraint(
            ["user_id"], [f"{parent}.id"], name=op.f("fk_todo_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo")),
        sqlite_autoincrement=autoincrement,
    )
