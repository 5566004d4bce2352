"""The least-privilege role the application connects as, so Row-Level Security applies.

Migrations run as the tables' owner; the application runs as a plain role that
may read and write rows and nothing else. PostgreSQL exempts superusers and
BYPASSRLS roles from row security, so `row_security_applies` checks the role.

    DATABASE_URL=<owner URL> python -m src.database.roles todo_app

grants an existing role what it needs (create it first; quickstart.md shows how on Neon).
"""

from __future__ import annotations

import sys

from sqlalchemy import Connection, inspect, text

from src.database.connection import dispose_engine, get_engine


def grant_application_role(connection: Connection, role: str) -> None:
    """Row access on the application's tables and their sequences, now and for new ones."""
    name = connection.dialect.identifier_preparer.quote(role)
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {name}",
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "user", todo TO {name}',
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {name}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {name}",
    ):
        connection.exec_driver_sql(statement)
    if inspect(connection).has_table("alembic_version"):
        # Read-only, so the main job can confirm the schema is current without migrating it.
        connection.exec_driver_sql(f"GRANT SELECT ON TABLE alembic_version TO {name}")


def row_security_applies(connection: Connection) -> bool:
    """Whether this connection's role is held to the policies on `todo`."""
    exempt = connection.execute(
        text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).scalar_one()
    return not exempt


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m src.database.roles ROLE", file=sys.stderr)
        return 2
    try:
        with get_engine().begin() as connection:
            grant_application_role(connection, argv[0])
    finally:
        dispose_engine()
    print(f"granted row access on user and todo to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
