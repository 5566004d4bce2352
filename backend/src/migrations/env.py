"""Alembic environment: the URL comes from `Settings`, the target from the models.

A caller may hand over an open connection in `config.attributes["connection"]`
(the package's `upgrade_to_head` and the tests do); otherwise the package's own
engine factory builds one. Either way the run is one transaction opened by
`migration_connection` (on SQLite, foreign keys checked at its end rather than
enforced during it), and on PostgreSQL `prepare_run` locks the tables before
the first revision runs, waiting at most `lock_timeout_s` (given by the
caller, or the `DB_MIGRATION_LOCK_TIMEOUT_S` setting).
"""

from __future__ import annotations

import sys

from alembic import context
from alembic.util import CommandError
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from src.config.settings import describe_database_url, get_settings
from src.database.connection import build_engine
from src.database.migrations import (
    COMPARE_OPTIONS,
    migration_connection,
    prepare_run,
    render_item,
)

target_metadata = SQLModel.metadata


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        **COMPARE_OPTIONS,
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run(connection: Connection) -> None:
    configure(connection)
    try:
        destination: str | tuple[str, ...] | None = context.get_revision_argument()
    except KeyError:  # `current`, `check`: a command that runs no revision
        destination = ()
    except CommandError:  # a relative revision: prepare_run then assumes one will run
        destination = "-"
    with context.begin_transaction():
        if destination != ():
            heads = context.get_context().get_current_heads()
            timeout_s = context.config.attributes.get("lock_timeout_s")
            prepare_run(connection, heads, destination, timeout_s)
        context.run_migrations()


def run_migrations_online() -> None:
    given: Connection | None = context.config.attributes.get("connection")
    if given is not None:
        run(given)
        return
    settings = get_settings()
    # The command line shows no INFO log: say here which database a migration will change
    # (an exported DATABASE_URL beats .env). On stderr, so `alembic current` stays parseable.
    print(describe_database_url(settings), file=sys.stderr)
    engine = build_engine(settings)
    try:
        with migration_connection(engine) as connection:
            run(connection)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=get_settings().resolved_database_url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        render_item=render_item,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
