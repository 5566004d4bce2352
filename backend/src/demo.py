"""The main job: migrate the database to the newest schema, load demo data, report.

    python -m src.demo            # the embedded SQLite default
    DATABASE_URL=postgresql://... python -m src.demo

Its first log line says which database it uses and where that came from
(the environment, a `.env` file, or the default). Every configuration fault
is one line on stderr and exit status 1, never a traceback.

Safe to run again: existing demo accounts are reused, not duplicated.
"""

from __future__ import annotations

import logging
import sys

from pydantic import SecretStr
from sqlmodel import Session

from src import crud
from src.database.connection import check_connection, dispose_engine, get_engine, session_scope
from src.database.migrations import upgrade_to_head
from src.database.roles import row_security_applies
from src.errors import DataLayerError
from src.models import TodoCreate, User, UserCreate

DEMO_PASSWORD = SecretStr("demo-password-123")  # a published demo credential, not a secret
DEMO_DATA: dict[str, list[tuple[str, bool]]] = {
    "ada@example.com": [
        ("Write the analytical engine notes", True),
        ("Check Bernoulli numbers table", False),
        ("Reply to Charles", False),
    ],
    "grace@example.com": [
        ("Find the moth in relay 70", True),
        ("Draft COBOL proposal", False),
    ],
    "linus@example.com": [
        ("Review pull requests", False),
        ("Tag release candidate", False),
        ("Answer mailing list", True),
        ("Update maintainers file", False),
    ],
}


def load_demo_data(session: Session) -> list[User]:
    """Create each demo user and their todos, unless the user already exists."""
    users = []
    for email, todos in DEMO_DATA.items():
        user = crud.get_user_by_email(session, email)
        if user is None:
            user = crud.create_user(session, UserCreate(email=email, password=DEMO_PASSWORD))
            assert user.id is not None
            crud.create_todos(
                session,
                user.id,
                [TodoCreate(title=title, completed=done) for title, done in todos],
            )
        users.append(user)
    return users


def print_summary(session: Session, users: list[User]) -> None:
    """The per-user table, read in full before the first line is printed.

    Reading may log (the first cursor says whether it is signed); logs go to
    stderr, the table to stdout, and in a terminal a log line printed between
    two rows used to land inside the table.
    """
    rows = []
    for user in users:
        assert user.id is not None
        counts = crud.count_todos(session, user.id)
        page = crud.list_todos(session, user.id, limit=1)
        newest = page.items[0].title if page.items else "-"
        rows.append(
            f"{user.email:<22} {counts.total:>5} {counts.completed:>5} {counts.open:>5}  {newest}"
        )
    print("\n".join([f"{'user':<22} {'total':>5} {'done':>5} {'open':>5}  newest", *rows]))


def row_security_status() -> str:
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        return "not available on SQLite; the operations' own user scoping is the only guard"
    with engine.connect() as connection:
        if row_security_applies(connection):
            return "enforced by PostgreSQL for this role"
    return "NOT enforced: this role is a superuser or has BYPASSRLS; connect as the app role"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The pool (logged under src.database.resilience) reports every dispose at INFO: noise here.
    logging.getLogger("src.database.resilience").setLevel(logging.WARNING)
    try:
        print(f"connected: {check_connection()}")
        upgrade_to_head()
        print(f"row security: {row_security_status()}")
        with session_scope() as session:
            users = load_demo_data(session)
            print_summary(session, users)
    except DataLayerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        dispose_engine()
    return 0


if __name__ == "__main__":
    sys.exit(main())
