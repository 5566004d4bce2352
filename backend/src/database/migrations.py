"""Bring a database to the newest schema revision with Alembic, and check it is there.

The migrations live in `src/migrations`, inside the package, so an installed
wheel can migrate too; its `env.py` takes its comparison and rendering rules
from here, so `alembic check`, autogenerate and the tests all judge the schema
the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy import types as sqltypes
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from src import models as _models  # noqa: F401  registers the tables
from src.database.connection import get_engine
from src.models.types import UTCDateTime

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def render_item(type_: str, obj: Any, _autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the package's column types as plain SQLAlchemy types in migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def compare_type(
    context: MigrationContext,
    _inspected_column: Any,
    _metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Compare `UTCDateTime` as the timestamp type it stores; defer to Alembic otherwise."""
    if not isinstance(metadata_type, UTCDateTime):
        return None
    if not isinstance(inspected_type, sqltypes.DateTime):
        return True
    return context.dialect.name == "postgresql" and not inspected_type.timezone


COMPARE_OPTIONS: dict[str, Any] = {"compare_type": compare_type, "compare_server_default": True}


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_to_head(engine: Engine | None = None) -> None:
    """Apply every migration not yet applied; a database already at head is left alone."""
    upgrade_to("head", engine)


def downgrade_to_base(engine: Engine | None = None) -> None:
    """Undo every migration (drops the tables and their data)."""
    downgrade_to("base", engine)


def upgrade_to(revision: str, engine: Engine | None = None) -> None:
    """Apply the migrations up to `revision` (an operator pinning a version, or a test)."""
    _run(engine or get_engine(), "upgrade", revision)


def downgrade_to(revision: str, engine: Engine | None = None) -> None:
    """Undo the migrations after `revision`."""
    _run(engine or get_engine(), "downgrade", revision)


def schema_differences(engine: Engine | None = None) -> list[Any]:
    """What a new migration would have to change to match the models (empty when current)."""
    with (engine or get_engine()).connect() as connection:
        context = MigrationContext.configure(connection, opts=COMPARE_OPTIONS)
        return list(compare_metadata(context, SQLModel.metadata))


def _run(engine: Engine, direction: str, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)
