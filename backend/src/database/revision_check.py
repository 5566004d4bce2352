"""Refuse to serve a database whose schema is not the one this package was written for.

A service pointed at a new database used to start, and its first `POST /users`
answered 500 (`relation "user" does not exist` in the log); one pointed at a
database a release behind or ahead failed later, on whatever column had
changed. `require_head_revision` reads the database's Alembic revision (one
query, `SELECT version_num FROM alembic_version`) and compares it with the
package's head; `src.api`'s lifespan calls it before the first request, so
the service refuses to start with one line that names the command fixing it.
"""

from __future__ import annotations

from functools import cache

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from src.database.engine_factory import masked_url
from src.database.migrations import alembic_config
from src.errors import SchemaRevisionError

UPGRADE_COMMAND = "cd backend && DATABASE_URL=<the owner's URL> ../.venv/bin/alembic upgrade head"


@cache
def head_revision() -> str:
    """The newest revision this package ships (read from its migration scripts once)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def database_revision(engine: Engine) -> str | None:
    """The revision the database was migrated to; None when it was never migrated."""
    with engine.connect() as connection:
        try:
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            return versions.scalar_one_or_none()
        except DBAPIError as exc:
            if "alembic_version" not in str(exc.orig) or "permission" in str(exc.orig).lower():
                raise
            return None  # no such table: nothing was ever migrated here


def require_head_revision(engine: Engine) -> str:
    """The database's revision if it is the package's head; else `SchemaRevisionError`."""
    head, found = head_revision(), database_revision(engine)
    if found == head:
        return found
    where = masked_url(engine.url)
    if found is None:
        state = "has no schema (it was never migrated)"
    elif found in _known_revisions():
        state = f"is at revision {found}, older than this package's {head}"
    else:
        state = (
            f"is at revision {found}, which this package does not know (a newer release "
            f"migrated it; this one expects {head}): deploy that release, or downgrade with it"
        )
        raise SchemaRevisionError(f"the database at {where} {state}")
    raise SchemaRevisionError(
        f"the database at {where} {state}: run `{UPGRADE_COMMAND}`, then start again"
    )


@cache
def _known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(revision.revision for revision in script.walk_revisions())
