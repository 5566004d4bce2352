"""The Neon stand-in for the resilience tests: cluster, pooler and Neon's proxy in front.

One stack per test module, since these tests stop, restart and suspend it; the
proxy is reset after every test so a suspended compute never leaks into the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlmodel import SQLModel

from src.database.connection import build_engine
from tests.conftest import settings_for, unavailable
from tests.standins.neon_local import NeonLikeServer, neon_stack
from tests.standins.neon_proxy import NeonProxy


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[NeonLikeServer, NeonProxy]]:
    with ExitStack() as exits:
        try:
            server, proxy = exits.enter_context(neon_stack())
        except (OSError, RuntimeError, psycopg2.Error) as exc:
            # A missing program says which package to install (tests/standins/programs.py).
            unavailable(f"cannot start the Neon stand-in (TLS PostgreSQL, PgBouncer, proxy): {exc}")
        engine = build_engine(settings_for(server.direct_url()))
        try:
            SQLModel.metadata.create_all(engine)
        finally:
            engine.dispose()
        yield server, proxy


@pytest.fixture
def server(stack: tuple[NeonLikeServer, NeonProxy]) -> NeonLikeServer:
    return stack[0]


@pytest.fixture
def proxy(stack: tuple[NeonLikeServer, NeonProxy]) -> Iterator[NeonProxy]:
    yield stack[1]
    stack[1].reset()


@pytest.fixture(params=["direct", "pooler"])
def endpoint_url(request: pytest.FixtureRequest, server: NeonLikeServer, proxy: NeonProxy) -> URL:
    """The database owner's URL by endpoint host name: the compute, or its `-pooler`."""
    return proxy.url(server.direct_url(), pooler=request.param == "pooler")


@pytest.fixture
def clean_users(server: NeonLikeServer) -> Iterator[None]:
    """Delete every user (and so every todo) the test left behind."""
    yield
    cleaner = build_engine(settings_for(server.direct_url()))
    with cleaner.begin() as connection:
        connection.execute(text('DELETE FROM "user"'))
    cleaner.dispose()
