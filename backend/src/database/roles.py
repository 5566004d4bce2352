"""The roles besides the tables' owner: the application's (held to row security), a maintainer's.

Migrations run as the tables' owner. The application connects as a plain role
that may read and write rows and nothing else, so Row-Level Security applies to
it. Row security is forced on `todo`, so the owner too sees no todo without
naming a user: `SELECT count(*) FROM todo` answers 0. Inspecting or repairing
data across users is done as a maintenance role with BYPASSRLS, which the
application must never connect as (`grant_application_role` refuses one).

    DATABASE_URL=<owner URL> python -m src.database.roles todo_app
    DATABASE_URL=<owner URL> python -m src.database.roles --maintenance todo_maint

grant an existing role its part (create it first; quickstart.md shows how, on Neon too).
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import ProgrammingError

from src.database.connection import dispose_engine, get_engine
from src.errors import DatabaseRoleError

_INSUFFICIENT_PRIVILEGE = "42501"


def grant_application_role(connection: Connection, role: str) -> None:
    """Row access on the application's tables and their sequences, now and for new ones.

    A role that skips row security (a superuser, or one with BYPASSRLS such as
    the maintenance role) is refused: the application would see every user's todos.
    """
    if _skips_row_security(connection, role):
        raise DatabaseRoleError(
            role,
            "is a superuser or has BYPASSRLS, so row security would not hold it; the "
            "application must connect as a plain role (the maintenance role is for people)",
        )
    _grant_row_access(connection, role)


def grant_maintenance_role(connection: Connection, role: str) -> None:
    """BYPASSRLS and row access, so `role` sees and repairs every user's todos.

    PostgreSQL lets a superuser give BYPASSRLS (before version 16, only a
    superuser; from 16, also a role with CREATEROLE that has BYPASSRLS itself
    and administers `role`). Otherwise `DatabaseRoleError` says what to do.
    """
    name = connection.dialect.identifier_preparer.quote(role)
    if role == connection.execute(text("SELECT current_user")).scalar_one():
        raise DatabaseRoleError(
            role,
            "is the role running this command; name a separate maintenance role, so the "
            "owner stays held to row security",
        )
    if not _skips_row_security(connection, role):
        try:
            with connection.begin_nested():
                connection.exec_driver_sql(f"ALTER ROLE {name} BYPASSRLS")
        except ProgrammingError as exc:
            if getattr(exc.orig, "pgcode", None) != _INSUFFICIENT_PRIVILEGE:
                raise
            raise DatabaseRoleError(
                role,
                "this connection may not give BYPASSRLS (PostgreSQL requires a superuser, or "
                "from version 16 a role with CREATEROLE and BYPASSRLS); on Neon run this as "
                "the project owner role, or create the maintenance role in the Neon Console, "
                "which makes it a member of neon_superuser (quickstart.md)",
            ) from None
    _grant_row_access(connection, role)


def _grant_row_access(connection: Connection, role: str) -> None:
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


def _skips_row_security(connection: Connection, role: str) -> bool:
    found = connection.execute(
        text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = :role"),
        {"role": role},
    ).scalar_one_or_none()
    if found is None:
        raise DatabaseRoleError(role, "does not exist; create it first (quickstart.md)")
    return bool(found)


def row_security_applies(connection: Connection) -> bool:
    """Whether this connection's role is held to the policies on `todo`."""
    exempt = connection.execute(
        text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).scalar_one()
    return not exempt


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m src.database.roles",
        description="Grant an existing role its part; run as the tables' owner (DATABASE_URL).",
    )
    parser.add_argument("role", help="the role to grant")
    parser.add_argument(
        "--maintenance",
        action="store_true",
        help="a maintainer's role: BYPASSRLS and row access, never the application's",
    )
    arguments = parser.parse_args(argv)
    grant = grant_maintenance_role if arguments.maintenance else grant_application_role
    try:
        with get_engine().begin() as connection:
            grant(connection, arguments.role)
    except DatabaseRoleError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        dispose_engine()
    if arguments.maintenance:
        print(f"{arguments.role} bypasses row security and may read and write every row")
    else:
        print(f"granted row access on user and todo to {arguments.role}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
