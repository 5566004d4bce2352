"""A search reads `ix_todo_search`, not every row of the user, and finds exactly what it should.

Under forced row security PostgreSQL never tests `LIKE` inside an index, so a
rare word read all of a user's rows from the table. The search now filters
the entries of an index-only scan (each carries the row's lowered text,
`src.models.search_index`) and reads the table only for candidates, where
the exact rule decides. The plan is checked as the application role, which
row security holds; the results on every backend (the `session` fixture).
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlmodel import Session

from src import crud
from src.crud.search import like_pattern, search_page_statement
from src.database.connection import build_engine
from src.database.migrations import upgrade_to, upgrade_to_head
from src.models import TodoCreate, User
from src.models.search_index import MAX_HEAD_BYTES, SEARCH_INDEX_DDL
from tests.conftest import add_user, empty_tables, settings_for, statements_sent, uid
from tests.integration.test_todo_search import add, found

MIGRATION = next((Path(__file__).parents[2] / "src/migrations/versions").glob("*_0009_*.py"))
RARE = "quetzal"


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


@pytest.fixture
def owner_and_app(postgres_url: URL, postgres_app_url: URL) -> Iterator[tuple[Engine, Engine]]:
    """The test database as its owner (VACUUM) and as the application role (the search)."""
    owner = build_engine(settings_for(postgres_url))
    app = build_engine(settings_for(postgres_app_url))
    yield owner, app
    empty_tables(app)
    owner.dispose()
    app.dispose()


def test_a_rare_word_is_looked_for_in_the_index_and_the_table_read_only_for_candidates(
    owner_and_app: tuple[Engine, Engine],
) -> None:
    owner, app = owner_and_app
    with Session(app, expire_on_commit=False) as session:
        # A shared table: the user's rows are a twentieth of it, as a user's are among many.
        for n in range(19):
            other = add_user(session, f"other{n}@example.com")
            errands = [TodoCreate(title=f"errand {i}", description="milk") for i in range(1000)]
            crud.create_todos(session, uid(other), errands)
        user = add_user(session, "index@example.com")
        crud.create_todos(
            session,
            uid(user),
            [TodoCreate(title=f"errand {n}", description="milk and bread") for n in range(1000)]
            + [TodoCreate(title=f"see the {RARE}")],
        )
        with statements_sent(app) as sent:
            assert len(found(session, user, RARE.upper())) == 1
            assert crud.count_todos(session, uid(user), search=RARE).total == 1
        assert sum("indexed.search_head LIKE" in statement for statement in sent) == 2
    with owner.connect() as connection:  # the visibility map, as autovacuum keeps it
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM ANALYZE todo"
        )
    for word, table_reads_at_most in ((RARE, 5), ("milk", 60)):
        nodes = explained_page(app, uid(user), word)
        scans = {(n["Node Type"], n.get("Index Name")) for n in nodes if "Scan" in n["Node Type"]}
        assert ("Index Only Scan", "ix_todo_search") in scans, scans
        assert not any(kind in ("Seq Scan", "Bitmap Heap Scan") for kind, _ in scans), scans
        assert not any(n["Node Type"] == "Sort" for n in nodes)  # walked in page order
        table_reads = [n for n in nodes if n.get("Index Name") == "pk_todo"]
        # a rare word: its one candidate, not 1,001 rows; a common one: a page, then it stops
        assert sum(n["Actual Loops"] for n in table_reads) <= table_reads_at_most


def explained_page(app: Engine, user_id: int, word: str) -> list[dict[str, Any]]:
    """The first page's plan, run as the application role (row security in force)."""
    statement = search_page_statement(
        filtered=False, after_cursor=False, newest_first=True, indexed=True
    ).params(owner_id=user_id, search_pattern=like_pattern(word), row_limit=51)
    compiled = statement.compile(dialect=app.dialect)
    with app.begin() as connection:
        connection.exec_driver_sql(f"SET LOCAL app.current_user_id = '{user_id}'")
        (explained,) = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}", compiled.params
        ).scalar_one()
    return list(plan_nodes(explained["Plan"]))


@pytest.mark.parametrize(
    ("alphabet", "length"),
    [
        ([chr(c) for c in range(0x4E00, 0x9FA5)], 1990),  # 3 bytes each: about 6,000 bytes
        ([chr(c) for c in range(0x0430, 0x0450)], 1990),  # Cyrillic, 2 bytes each
        (list("abcdefghijklmnopqrstuvwxyz0123456789"), 1990),
    ],
    ids=["3-byte", "2-byte", "ascii"],
)
def test_a_todo_too_long_for_the_index_entry_is_stored_and_found(
    session: Session, ann: User, alphabet: list[str], length: int
) -> None:
    """Random text, which PostgreSQL cannot compress inside an index entry either."""
    noise = "".join(random.Random(length).choices(alphabet, k=length))
    (long_one,) = add(session, ann, ("long", f"{noise} {RARE}"))
    add(session, ann, ("short", "nothing here"))
    assert found(session, ann, RARE) == [long_one]
    assert found(session, ann, "absent word") == []
    assert crud.count_todos(session, uid(ann), search=RARE).total == 1
    if session.get_bind().dialect.name == "postgresql":
        kept = search_heads(session, uid(ann))
        too_long = len(f"long\n{noise} {RARE}".lower().encode()) > MAX_HEAD_BYTES
        assert (kept[long_one] is None) == too_long


def test_the_search_text_is_kept_up_to_its_limit_and_not_one_byte_past_it(
    session: Session, ann: User
) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite keeps no search text")
    # The kept text is title, line break, description; "é" is two bytes: 2 + 2 x 1,199 = 2,400.
    at_limit = ("t", "é" * ((MAX_HEAD_BYTES - 2) // 2))
    past_it = ("tt", "é" * ((MAX_HEAD_BYTES - 2) // 2))  # one byte more
    kept_id, dropped_id = add(session, ann, at_limit, past_it)
    kept = search_heads(session, uid(ann))
    assert kept[kept_id] == f"t\n{at_limit[1]}"
    assert len(str(kept[kept_id]).encode()) == MAX_HEAD_BYTES
    assert kept[dropped_id] is None
    assert found(session, ann, "éé") == [dropped_id, kept_id]  # both found, newest first


def search_heads(session: Session, user_id: int) -> dict[int, str | None]:
    """What PostgreSQL keeps in `todo.search_head` for the user's todos (as that user)."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with engine.connect() as connection, connection.begin():
        connection.exec_driver_sql(f"SET LOCAL app.current_user_id = '{user_id}'")
        rows = connection.exec_driver_sql("SELECT id, search_head FROM todo").all()
    return {todo_id: head for todo_id, head in rows}


def test_a_search_never_matches_across_the_title_and_the_description(
    session: Session, ann: User
) -> None:
    """The index holds "title, line break, description"; the rule looks at each on its own."""
    add(session, ann, ("quokka", "wombat"))
    assert found(session, ann, "quokka\nwombat") == []
    assert crud.count_todos(session, uid(ann), search="quokka\nwombat").total == 0
    assert len(found(session, ann, "wombat")) == 1


def test_the_migration_holds_a_frozen_copy_of_the_search_index_sql() -> None:
    spec = importlib.util.spec_from_file_location("revision_0009", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    assert revision.UPGRADE == SEARCH_INDEX_DDL


def test_existing_todos_get_their_search_text_when_migrated(fresh_postgres: Any) -> None:
    engine = build_engine(settings_for(fresh_postgres()))
    try:
        upgrade_to("0008", engine)
        with engine.begin() as connection:
            user_id = connection.execute(
                text(
                    """INSERT INTO "user" (email, hashed_password)
                       VALUES ('m@example.com', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA')
                       RETURNING id"""
                )
            ).scalar_one()
            connection.exec_driver_sql(f"SET LOCAL app.current_user_id = '{user_id}'")
            connection.execute(
                text("INSERT INTO todo (user_id, title, description) VALUES (:u, :t, :d)"),
                [{"u": user_id, "t": "Grüße ÄPFEL", "d": None}, {"u": user_id, "t": "x", "d": "Y"}],
            )
        upgrade_to_head(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"SET LOCAL app.current_user_id = '{user_id}'")
            heads = connection.execute(text("SELECT search_head FROM todo ORDER BY id")).scalars()
            assert list(heads) == ["grüße äpfel\n", "x\ny"]
    finally:
        engine.dispose()
