"""Validate every User and Todo the ORM is about to write.

SQLModel table classes skip validation in `__init__`, so `Todo(title="")`
would otherwise reach the database. This hook re-validates each new or changed
row against its own field rules at flush time, raising pydantic's
`ValidationError` (naming the field) before any SQL is sent, and stores the
normalised values (stripped title, lower-cased email).

Global on purpose: the listener is attached to SQLAlchemy's `Session` class,
not to one session factory, because the operations accept any `Session` the
caller brings (a test's, a FastAPI dependency's, `AsyncSession.sync_session`)
and every one of them must refuse an invalid row. It touches only this
package's tables; other models flushed in the same process are left alone.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

from src.models.todo import Todo
from src.models.user import User

_GUARDED = (Todo, User)


@event.listens_for(Session, "before_flush")
def _validate_pending_rows(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    for row in chain(session.new, session.dirty):
        if isinstance(row, _GUARDED):
            validated = type(row).model_validate(row.model_dump(warnings=False))
            for name, value in validated:
                if getattr(row, name) != value:
                    setattr(row, name, value)
