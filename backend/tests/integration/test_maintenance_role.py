"""Operating the database: a maintenance role sees every user's rows; the application never does.

With row security forced on `todo`, a plain `SELECT count(*) FROM todo` answers
0 for every role held to it (the owner included), which misleads a maintainer.
The supported way is `python -m src.database.roles --maintenance NAME`, run by
the owner: NAME gets BYPASSRLS and row access. Tested on the local PostgreSQL,
with the roles and rows committed for real (a maintainer's connection cannot
see another session's open transaction) and removed afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from psycopg2 import sql
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from src import crud
from src.config.settings import get_settings
from src.database.connection import build_engine, new_session
from src.database.roles import grant_application_role, main, row_security_applies
from src.errors import DatabaseRoleError
from src.models import TodoCreate, User
from tests.conftest import KNOWN_PASSWORD_HASH, PostgresServer, settings_for

COUNT_TODOS = text("SELECT count(*) FROM todo")


@pytest.fixture
def app_engine(postgres_app_url: URL) -> Iterator[Engine]:
    engine = build_engine(settings_for(postgres_app_url))
    yield engine
    engine.dispose()


@pytest.fixture
def committed_todos(app_engine: Engine) -> Iterator[int]:
    """Two users with 3 and 2 todos, committed by the application; deleted afterwards."""
    emails = [f"{name}-{uuid.uuid4().hex[:8]}@example.com" for name in ("ann", "bob")]
    with new_session(app_engine) as session:
        for email, count in zip(emails, (3, 2), strict=True):
            user = User.model_validate({"email": email, "hashed_password": KNOWN_PASSWORD_HASH})
            session.add(user)
            session.commit()
            assert user.id is not None
            crud.create_todos(session, user.id, [TodoCreate(title=f"t{i}") for i in range(count)])
    yield 5
    with app_engine.begin() as connection:  # the user table has no policies; todos cascade
        connection.execute(
            text('DELETE FROM "user" WHERE email = ANY(:emails)'), {"emails": emails}
        )


@pytest.fixture
def maintainer(
    postgres_server: PostgresServer, postgres_url: URL, monkeypatch: pytest.MonkeyPatch
) -> Iterator[URL]:
    """A login role made a maintenance role by the documented command, run as the owner."""
    role, password = f"todo_maint_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    postgres_server.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )
    try:
        run_roles_command(monkeypatch, postgres_url, ["--maintenance", role], expect=0)
        yield postgres_url.set(username=role, password=password)
    finally:
        postgres_server.drop_role(postgres_url, role)


def run_roles_command(
    monkeypatch: pytest.MonkeyPatch, url: URL, argv: list[str], *, expect: int
) -> None:
    """`python -m src.database.roles ARGV` with `DATABASE_URL=url`, in this process."""
    monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        assert main(argv) == expect
    finally:
        monkeypatch.delenv("DATABASE_URL")
        get_settings.cache_clear()


def plain_count(url: URL) -> tuple[int, bool]:
    """`SELECT count(*) FROM todo` without naming a user, and whether row security held."""
    engine = build_engine(settings_for(url))
    try:
        with engine.connect() as connection:
            return int(connection.execute(COUNT_TODOS).scalar_one()), row_security_applies(
                connection
            )
    finally:
        engine.dispose()


def bypasses_row_security(url: URL, role: str) -> bool:
    engine = build_engine(settings_for(url))
    try:
        with engine.connect() as connection:
            query = text("SELECT rolbypassrls FROM pg_roles WHERE rolname = :role")
            return bool(connection.execute(query, {"role": role}).scalar_one())
    finally:
        engine.dispose()


def test_the_maintenance_role_sees_every_users_todos_and_the_app_role_none(
    committed_todos: int, maintainer: URL, postgres_app_url: URL, postgres_url: URL
) -> None:
    superuser = postgres_url  # the test server's owner is a superuser
    assert bypasses_row_security(maintainer, str(maintainer.username))
    # Every row there is, as the superuser sees them (other tests leave none committed).
    everything, _ = plain_count(superuser)
    assert everything >= committed_todos
    assert plain_count(maintainer) == (everything, False)
    assert plain_count(postgres_app_url) == (0, True)  # unchanged by the maintenance role


def test_the_maintenance_role_can_repair_any_users_rows(
    committed_todos: int, maintainer: URL
) -> None:
    engine = build_engine(settings_for(maintainer))
    try:
        with engine.begin() as connection:
            fixed = connection.execute(
                text("UPDATE todo SET completed = true WHERE title = 't0'")
            ).rowcount
            assert fixed == 2  # one of Ann's and one of Bob's
            connection.rollback()
    finally:
        engine.dispose()
    assert committed_todos == 5


def test_the_application_role_cannot_be_the_maintenance_role(
    maintainer: URL, postgres_url: URL
) -> None:
    """Granting app access to a role that skips row security is refused, by name and rule."""
    owner = build_engine(settings_for(postgres_url))
    try:
        with owner.begin() as connection, pytest.raises(DatabaseRoleError, match="BYPASSRLS"):
            grant_application_role(connection, str(maintainer.username))
        with owner.begin() as connection, pytest.raises(DatabaseRoleError, match="superuser"):
            grant_application_role(connection, "postgres")
    finally:
        owner.dispose()


def test_a_connection_that_may_not_give_bypassrls_gets_a_typed_answer(
    postgres_server: PostgresServer,
    postgres_app_url: URL,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run as a role without the right (the app's): PostgreSQL refuses; the command says why."""
    role = f"todo_plain_{uuid.uuid4().hex[:8]}"
    postgres_server.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    try:
        run_roles_command(monkeypatch, postgres_app_url, ["--maintenance", role], expect=1)
        assert "may not give BYPASSRLS" in capsys.readouterr().err
        assert not bypasses_row_security(postgres_app_url, role)
    finally:
        postgres_server.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_role_that_does_not_exist_is_named(
    postgres_url: URL, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    role = f"todo_nobody_{uuid.uuid4().hex[:8]}"
    for argv in (["--maintenance", role], [role]):
        run_roles_command(monkeypatch, postgres_url, argv, expect=1)
        assert f"role '{role}': does not exist" in capsys.readouterr().err
