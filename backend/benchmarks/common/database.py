"""The run's own database and, where row security needs one, its own plain role.

The database is always one made for the run (a temporary SQLite file, or a
database dropped and recreated on the PostgreSQL server), so a benchmark never
touches anyone's data. When the schema puts row-level security on `todo`, the
application is meant to connect as a plain role (superusers and BYPASSRLS roles
skip the policies), so the run creates one, measures as it, and drops it.
`connect` gives the bare driver connection (psycopg2 or sqlite3) the modes talk
to it with, set up as the package's engine sets up its own.
"""

from __future__ import annotations

import secrets
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import URL

from src.config.settings import parse_database_url
from src.crud.search import give_sqlite_lower


def connect(url: URL) -> Any:
    """A bare DBAPI connection, set up the way the package's engine sets up its own."""
    if url.get_backend_name() == "postgresql":
        arguments = url.translate_connect_args(username="user", database="dbname")
        parameters: dict[str, Any] = {**arguments, **url.query}
        connection = psycopg2.connect(**parameters)
        connection.autocommit = True  # each statement its own transaction, as the package
        return connection
    connection = sqlite3.connect(url.database or ":memory:", timeout=30)
    give_sqlite_lower(connection)  # as the package does before a search
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


@contextmanager
def bench_database(server_url: str | None, name: str) -> Iterator[URL]:
    """A fresh, empty database for one run, removed afterwards."""
    if server_url is None:
        with tempfile.TemporaryDirectory(prefix="todo-bench-") as directory:
            yield parse_database_url(f"sqlite:///{Path(directory) / 'bench.db'}")
        return
    server = parse_database_url(server_url)
    if server.get_backend_name() != "postgresql":
        raise SystemExit("--database-url must name a PostgreSQL server (SQLite is the default)")
    if server.database == name:
        raise SystemExit(f"refusing to drop {name!r}: it is the database the URL names")
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    _execute(server, drop, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.set(database=name)
    finally:
        _execute(server, drop)


@contextmanager
def application_role(owner: URL, role: str) -> Iterator[URL]:
    """`owner`'s database as a fresh plain role, if row security is on `todo`; else `owner`."""
    if owner.get_backend_name() != "postgresql" or not _row_security_would_be_skipped(owner):
        yield owner
        return
    password = secrets.token_hex(16)  # only for servers that do not trust local connections
    name = sql.Identifier(role)
    _execute(
        owner,
        sql.SQL("DROP ROLE IF EXISTS {}").format(name),
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(name, sql.Literal(password)),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name),
        sql.SQL('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "user", todo TO {}').format(name),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name),
    )
    try:
        yield owner.set(username=role, password=password)
    finally:
        _execute(
            owner,
            sql.SQL("DROP OWNED BY {}").format(name),
            sql.SQL("DROP ROLE {}").format(name),
        )


def disable_row_security(owner: URL) -> None:
    """Turn row-level security off on `todo` (the run's own database), to measure its cost."""
    if owner.get_backend_name() == "postgresql":
        _execute(
            owner,
            "ALTER TABLE todo NO FORCE ROW LEVEL SECURITY",
            "ALTER TABLE todo DISABLE ROW LEVEL SECURITY",
        )


def _row_security_would_be_skipped(owner: URL) -> bool:
    """Whether `todo` has row security that `owner`'s role (superuser/BYPASSRLS) skips."""
    connection = connect(owner)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relrowsecurity FROM pg_class WHERE oid = 'todo'::regclass"
                " AND (SELECT rolsuper OR rolbypassrls FROM pg_roles"
                " WHERE rolname = current_user)"
            )
            return bool(cursor.fetchone() == (True,))
    finally:
        connection.close()


def _execute(url: URL, *statements: Any) -> None:
    connection = connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def role_note(url: URL) -> str:
    """Who the package is measured as, and whether row security holds that role."""
    if url.get_backend_name() != "postgresql":
        return "SQLite: no roles, no row security"
    connection = connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_user, (SELECT relrowsecurity FROM pg_class"
                " WHERE oid = 'todo'::regclass), (SELECT rolsuper OR rolbypassrls"
                " FROM pg_roles WHERE rolname = current_user)"
            )
            user, enabled, exempt = cursor.fetchone()
    finally:
        connection.close()
    if not enabled:
        return f"connected as {user}; no row-level security on todo"
    state = "skips it (superuser or BYPASSRLS)" if exempt else "is held to its policies"
    return f"connected as {user}, a role that {state}: row-level security is on todo"
