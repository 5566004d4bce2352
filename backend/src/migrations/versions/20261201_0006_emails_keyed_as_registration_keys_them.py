"""Stored emails keyed exactly as registration and lookup key them.

0004 keyed stored emails with NFKC and lower case only, while the package's key
(`src.models.user.email_key`) also strips surrounding whitespace (a trailing
newline from an import, say), drops a display name and turns a punycode domain
into Unicode. An account stored as `ann@xn--bcher-kva.de` or ` ann@x.de` was
left in a form no lookup computes: its owner could no longer log in, and the
same address could be registered a second time.

This revision re-keys every stored email with the key as it is today, frozen
below (a migration must mean tomorrow what it means today; a test holds this
copy equal to the package's function). On a database already keyed this way it
changes nothing, so a fresh database and one that ran the old 0004 end alike.
Two rows with one key stop the upgrade with both ids, whichever comes first,
before any row is written. A stored value that is no address at all is left as
it is (no spelling can find it, before or after) and its id is logged.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("src.migrations")


def email_key(value: str) -> str | None:
    """The email key as `src.models.user.email_key_or_none` computed it on 2026-12-01:
    NFKC of the stripped text, pydantic's address normalisation, lower case."""
    if "\x00" in value:
        return None
    try:
        value.encode("utf-8")
        _display_name, address = validate_email(unicodedata.normalize("NFKC", value.strip()))
    except (UnicodeEncodeError, PydanticCustomError):
        return None
    return address.lower()


def upgrade() -> None:
    connection = op.get_bind()
    user = sa.table("user", sa.column("id", sa.BigInteger), sa.column("email", sa.String))
    rows = connection.execute(sa.select(user.c.id, user.c.email).order_by(user.c.id)).all()
    owners: dict[str, int] = {}
    changes: list[dict[str, object]] = []
    no_address: list[int] = []
    for user_id, email in rows:
        key = email_key(email)
        if key is None:
            no_address.append(user_id)
            continue
        if key in owners:
            raise RuntimeError(
                f"user.email: users {owners[key]} and {user_id} have the same email key "
                "(the address as registration normalises it); merge or rename one of them, "
                "then upgrade again"
            )
        owners[key] = user_id
        if key != email:
            changes.append({"row": user_id, "key": key})
    # No key is another row's stored value (a key is its own key): no update can collide.
    if changes:  # one executemany: the tables stay locked while it runs
        rekey = user.update().where(user.c.id == sa.bindparam("row"))
        connection.execute(rekey.values(email=sa.bindparam("key")), changes)
    if no_address:
        logger.warning(
            "users %s have a stored email that is not an address; left as they are, "
            "no login can find them until it is corrected",
            ", ".join(map(str, no_address)),
        )


def downgrade() -> None:
    """Nothing to undo: the keys are lower case and unique, as 0005 requires too."""
