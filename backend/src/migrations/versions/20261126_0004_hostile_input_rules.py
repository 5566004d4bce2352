"""Hostile input: bcrypt hashes may be migrated in, invisible titles are blank, emails re-keyed.

- ck_user_hashed_password_is_hash accepts bcrypt ($2a$, $2b$, $2y$) besides
  Argon2: accounts migrated from other applications log in and are re-hashed
  to Argon2id at their next successful login. Anything else is still refused.
- ck_todo_title_not_blank trims every invisible character (control, format
  and separator characters, Hangul fillers, variation selectors, braille
  blank), not only ASCII whitespace. A stored row that breaks the new rule
  makes the upgrade fail on the constraint (nothing is changed silently);
  fix such titles first.
- Stored emails take their key's form (NFKC, lower case): an address
  registered with fullwidth letters is found again. Two rows whose keys
  collide stop the upgrade with their ids, for an operator to merge, whichever
  of the two comes first. (This key is not the whole of the package's key:
  0006 re-keys with that.)

On SQLite a CHECK can only change by rebuilding its table. Both tables are
rebuilt by SQLite's own procedure (`src.database.sqlite_rebuild`): foreign keys
not enforced, so dropping the old tables deletes no row of any table that
references them, and the new `todo` made to reference the new `user`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from src.database.sqlite_rebuild import rebuilding

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HASH = "ck_user_hashed_password_is_hash"
TITLE = "ck_todo_title_not_blank"
ARGON2_ONLY = "hashed_password LIKE '$argon2%'"
KNOWN_HASH = (
    "hashed_password LIKE '$argon2%' OR hashed_password LIKE '$2a$%' "
    "OR hashed_password LIKE '$2b$%' OR hashed_password LIKE '$2y$%'"
)
ASCII_BLANK = "length(trim(title, ' \t\n\r\f\v')) > 0"
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
    _rekey_emails()
    if op.get_context().dialect.name == "sqlite":
        _rebuild_sqlite(hash_rule=KNOWN_HASH, title_rule=VISIBLE_TITLE)
        return
    _replace_check("user", HASH, KNOWN_HASH)
    _replace_check("todo", TITLE, VISIBLE_TITLE)


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild_sqlite(hash_rule=ARGON2_ONLY, title_rule=ASCII_BLANK)
        return
    _replace_check("todo", TITLE, ASCII_BLANK)
    _replace_check("user", HASH, ARGON2_ONLY)


def _replace_check(table: str, name: str, rule: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(name), type_="check")
        batch.create_check_constraint(op.f(name), rule)


def _rekey_emails() -> None:
    """Every key first, every collision refused, and only then any row written: a row
    written before its twin is seen would hit the unique index instead of this message."""
    connection = op.get_bind()
    user = sa.table("user", sa.column("id", sa.BigInteger), sa.column("email", sa.String))
    rows = connection.execute(sa.select(user.c.id, user.c.email).order_by(user.c.id)).all()
    keys = {user_id: unicodedata.normalize("NFKC", email).lower() for user_id, email in rows}
    owners: dict[str, int] = {}
    for user_id, key in keys.items():
        if key in owners:
            raise RuntimeError(
                f"user.email: users {owners[key]} and {user_id} have the same email key "
                "(NFKC, lower case); merge or rename one of them, then upgrade again"
            )
        owners[key] = user_id
    changes = [
        {"row": user_id, "key": keys[user_id]} for user_id, email in rows if keys[user_id] != email
    ]
    if changes:
        rekey = user.update().where(user.c.id == sa.bindparam("row"))
        connection.execute(rekey.values(email=sa.bindparam("key")), changes)


USER_COLUMNS = ("created_at", "updated_at", "email", "id", "hashed_password")
TODO_COLUMNS = ("created_at", "updated_at", "title", "description", "completed", "id", "user_id")


def _rebuild_sqlite(*, hash_rule: str, title_rule: str) -> None:
    """Rebuild both tables with these CHECKs, keeping every row that references them."""
    with rebuilding(op.get_bind(), ["user", "todo"]):  # and their indexes, views, triggers
        _create_user("user_new", hash_rule)
        _copy_rows("user", "user_new", USER_COLUMNS)
        _create_todo("todo_new", "user_new", title_rule)
        _copy_rows("todo", "todo_new", TODO_COLUMNS)
        op.drop_table("todo")
        op.drop_table("user")
        op.rename_table("user_new", "user")  # todo_new's foreign key follows the new name
        op.rename_table("todo_new", "todo")


def _copy_rows(source: str, target: str, columns: tuple[str, ...]) -> None:
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


def _create_user(name: str, hash_rule: str) -> None:
    op.create_table(
        name,
        *_timestamps(),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hashed_password", sa.String(length=255), nullable=False),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_user_email_lowercase")),
        sa.CheckConstraint(hash_rule, name=op.f(HASH)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("email", name=op.f("uq_user_email")),
    )


def _create_todo(name: str, parent: str, title_rule: str) -> None:
    op.create_table(
        name,
        *_timestamps(),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(title_rule, name=op.f(TITLE)),
        sa.CheckConstraint("length(title) <= 255", name=op.f("ck_todo_title_length")),
        sa.CheckConstraint("length(description) <= 2000", name=op.f("ck_todo_description_length")),
        sa.ForeignKeyConstraint(
            ["user_id"], [f"{parent}.id"], name=op.f("fk_todo_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo")),
    )
