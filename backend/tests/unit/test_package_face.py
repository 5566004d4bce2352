"""The package as a reader meets it: real signatures, the names the plan uses, a lazy engine."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from src import crud
from src.crud import aio

BACKEND = Path(__file__).resolve().parents[2]
OPERATIONS = sorted(name for name in crud.__all__ if name[0].islower())


def test_blocking_and_async_modules_offer_the_same_operations() -> None:
    assert sorted(crud.__all__) == sorted(aio.__all__)
    assert len(OPERATIONS) == 17


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_operation_shows_its_real_parameters(name: str) -> None:
    blocking = inspect.signature(getattr(crud, name))
    awaitable = inspect.signature(getattr(aio, name))
    session, *arguments = blocking.parameters.values()
    assert session.name == "session"
    assert [p.name for p in arguments], f"{name} shows no parameters"
    assert all(p.kind is not p.VAR_POSITIONAL and p.kind is not p.VAR_KEYWORD for p in arguments)
    assert list(awaitable.parameters)[1:] == [p.name for p in arguments]
    assert inspect.iscoroutinefunction(getattr(aio, name))
    assert not inspect.iscoroutinefunction(getattr(crud, name))


def test_todo_operations_name_user_and_todo() -> None:
    for module in (crud, aio):
        assert list(inspect.signature(module.get_todo).parameters) == [
            "session",
            "user_id",
            "todo_id",
        ]


def test_session_annotations_name_the_session_each_path_takes() -> None:
    for name in OPERATIONS:
        blocking = next(iter(inspect.signature(getattr(crud, name)).parameters.values()))
        awaitable = next(iter(inspect.signature(getattr(aio, name)).parameters.values()))
        assert blocking.annotation in ("Session", Session)
        assert awaitable.annotation in ("AsyncSession", AsyncSession)


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter from the backend directory."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BACKEND,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_the_engine_attribute_opens_no_connection() -> None:
    # Nothing listens on port 9: any connection attempt at import would fail.
    result = _python(
        "from src.database.connection import engine\n"
        "from src.database import get_engine, get_session\n"
        "assert engine is get_engine()\n"
        "print(engine.pool.checkedout(), engine.pool.checkedin())\n",
        DATABASE_URL="postgresql://nobody:secret@127.0.0.1:9/nowhere",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0"]


def test_an_unknown_module_attribute_is_still_an_attribute_error() -> None:
    from src.database import connection

    with pytest.raises(AttributeError, match="engin"):
        _ = connection.engin  # type: ignore[attr-defined]  # the typo under test
