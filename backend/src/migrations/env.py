"""Alembic environment: the URL comes from `Settings`, the target from the models.

A caller may hand over an open connection in `config.attributes["connection"]`
(the package's `upgrade_to_head` and the tests do); otherwise the package's own
engine factory builds one, so SQLite gets its foreign-key pragma here too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from src.config.settings import get_settings
from src.database.connection import build_engine
from src.database.migrations import COMPARE_OPTIONS, render_item

target_metadata = SQLModel.metadata


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        **COMPARE_OPTIONS,
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations_online() -> None:
    given: Connection | None = context.config.attributes.get("connection")
    if given is not None:
        configure(given)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = build_engine(get_settings())
    try:
        with engine.connect() as connection:
            configure(connection)
            with context.begin_transaction():
                context.run_migrations()
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
