"""Loading rows outside the operations (an import, a fixture), under row security.

The operations name the caller to row security for you. Code that writes the
tables itself (an import from another application's export, fixtures for a
demo or a test) must do the same, or PostgreSQL refuses every todo row it
inserts (`new row violates row-level security policy`), whichever role it
connects as, the tables' owner included: row security is forced on `todo`.

The rule: one transaction per user, `act_as(session, user_id)` first, then
any statement (ORM objects, Core inserts, even text SQL). The naming ends with
the transaction, so the next user's rows need their own. Every rule of the
schema still holds (blank titles, lengths, a todo of a user that does not
exist), since the database checks them, and a failing row rolls back the
whole user's import: nothing half-loaded stays.

On SQLite `act_as` does nothing (there is no row security), and the same code
works there.
"""

# README: begin
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, insert
from sqlmodel import Session

from src.models import Todo, TodoCreate
from src.models.row_security import act_as


def import_todos(
    engine: Engine, user_id: int, rows: Iterable[tuple[str, str | None, bool, datetime]]
) -> int:
    """Insert `(title, description, completed, created_at)` rows for one user, all or none."""
    values = [
        {
            **TodoCreate(title=title, description=description).model_dump(),  # the API's rules
            "user_id": user_id,
            "completed": completed,
            "created_at": created_at,  # kept from the export
            "updated_at": created_at,
        }
        for title, description, completed, created_at in rows
    ]
    if not values:
        return 0
    with Session(engine) as session, session.begin():  # commits at the end, or rolls back
        act_as(session, user_id)  # names the user to row security for this transaction
        session.execute(insert(Todo), values)
    return len(values)


# README: end
