"""An upgrade run while the service serves requests waits for them; it never deadlocks.

Real concurrent transactions on PostgreSQL: a request opens its transaction
and takes its first lock, the upgrade starts in another thread and is seen
waiting, then the request takes its second lock and commits. A migration that
held one table while queueing for the other would close a cycle with such a
request, and PostgreSQL would abort one of them with `deadlock detected`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import psycopg2
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from src.config.settings import get_settings
from src.database.connection import build_engine
from src.database.migration_locks import MigrationLockTimeoutError
from src.database.migrations import alembic_config, upgrade_to, upgrade_to_head
from tests.conftest import KNOWN_PASSWORD_HASH, settings_for

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
BEFORE = "0003"  # 0004 alters both tables on PostgreSQL, and re-keys emails
REQUESTS = {
    "lists its todos, then creates one": (
        "SELECT id FROM todo WHERE user_id = 1",
        "INSERT INTO todo (user_id, title) VALUES (1, 'written during the upgrade')",
    ),
    "reads its account, then lists its todos": (
        'SELECT id FROM "user" WHERE id = 1',
        "SELECT id FROM todo WHERE user_id = 1",
    ),
    "registers, then creates its first todo": (
        "INSERT INTO \"user\" (id, email, hashed_password) VALUES (3, 'new@example.com', "
        f"'{KNOWN_PASSWORD_HASH}')",
        "INSERT INTO todo (user_id, title) VALUES (3, 'first')",
    ),
    "deletes a todo, then its account": (
        "DELETE FROM todo WHERE user_id = 2",
        'DELETE FROM "user" WHERE id = 2',
    ),
}


@pytest.fixture
def database(fresh_postgres: Callable[[], URL]) -> Iterator[tuple[URL, Engine]]:
    """A PostgreSQL database at revision 0003 with two accounts and a todo each."""
    url = fresh_postgres()
    engine = build_engine(settings_for(url))
    upgrade_to(BEFORE, engine)
    with engine.begin() as connection:
        for n in (1, 2):
            connection.execute(
                text('INSERT INTO "user" (id, email, hashed_password) VALUES (:n, :email, :hash)'),
                {"n": n, "email": f"user{n}@example.com", "hash": KNOWN_PASSWORD_HASH},
            )
            connection.execute(
                text("INSERT INTO todo (user_id, title) VALUES (:n, 'before')"), {"n": n}
            )
    yield url, engine
    engine.dispose()


def connect(url: URL) -> psycopg2.extensions.connection:
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg2.connect(dsn)


def wait_until_someone_waits_for_a_lock(url: URL) -> None:
    observer = connect(url)
    observer.autocommit = True
    deadline = time.monotonic() + 30
    try:
        with observer.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                row = cursor.fetchone()
                if row is not None and row[0] > 0:
                    return
                time.sleep(0.02)
    finally:
        observer.close()
    pytest.fail("the upgrade never waited for the request's lock")


def in_background(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, failures


def version(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())


@pytest.mark.parametrize("steps", REQUESTS.values(), ids=REQUESTS.keys())
def test_an_upgrade_during_a_request_waits_for_it_and_neither_deadlocks(
    database: tuple[URL, Engine], steps: tuple[str, str]
) -> None:
    url, engine = database
    first, second = steps
    request = connect(url)
    try:
        with request.cursor() as cursor:
            cursor.execute(first)
            upgrade, failures = in_background(lambda: upgrade_to_head(engine))
            wait_until_someone_waits_for_a_lock(url)
            cursor.execute(second)  # `deadlock detected` here, or in the upgrade, if it held one
        request.commit()
    finally:
        request.close()
    upgrade.join(timeout=60)
    assert not upgrade.is_alive()
    assert failures == []
    assert version(engine) == HEAD


def test_an_upgrade_blocked_past_its_lock_timeout_names_the_table_and_changes_nothing(
    database: tuple[URL, Engine],
) -> None:
    url, engine = database
    request = connect(url)
    try:
        with request.cursor() as cursor:
            cursor.execute("SELECT id FROM todo WHERE user_id = 1")  # and then idles
            cursor.execute("SELECT pg_backend_pid()")
            row = cursor.fetchone()
            assert row is not None
            with pytest.raises(MigrationLockTimeoutError) as caught:
                upgrade_to_head(engine, lock_timeout_s=0.5)
            message = str(caught.value)
            assert 'lock on table "todo"' in message
            assert f"pid {row[0]} " in message
            assert "idle in transaction" in message
            assert "Nothing was changed" in message
            assert "DB_MIGRATION_LOCK_TIMEOUT_S" in message
            assert version(engine) == BEFORE
            cursor.execute("INSERT INTO todo (user_id, title) VALUES (1, 'after the refusal')")
        request.commit()  # the request never noticed
    finally:
        request.close()
    upgrade_to_head(engine)
    assert version(engine) == HEAD


def test_the_lock_timeout_is_the_db_migration_lock_timeout_s_setting(
    database: tuple[URL, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, engine = database
    monkeypatch.setenv("DB_MIGRATION_LOCK_TIMEOUT_S", "0.3")
    get_settings.cache_clear()
    request = connect(url)
    try:
        with request.cursor() as cursor:
            cursor.execute('SELECT id FROM "user" WHERE id = 1')
            with pytest.raises(MigrationLockTimeoutError) as caught:
                upgrade_to_head(engine)
        assert caught.value.table == "user"
        assert caught.value.waited_s == 0.3
    finally:
        request.close()
        get_settings.cache_clear()


def test_an_upgrade_with_nothing_to_apply_takes_no_lock(database: tuple[URL, Engine]) -> None:
    url, engine = database
    upgrade_to_head(engine)
    request = connect(url)
    try:
        with request.cursor() as cursor:
            cursor.execute('LOCK TABLE todo, "user" IN ACCESS EXCLUSIVE MODE')
            upgrade_to_head(engine, lock_timeout_s=0.2)  # at head: waits for nothing
    finally:
        request.close()
