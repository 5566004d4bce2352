"""Checks against Neon itself, on a throwaway branch. Opt-in: NEON_API_KEY and NEON_PROJECT_ID.

A branch with a unique name and a two-hour expiry is created through Neon's API
(`tests/neon_api.py`) for the test session and deleted at its end, pass or
fail. Every check runs on the branch's compute and its `-pooler` endpoint, on
the blocking and the asyncio path, with the URL exactly as the API hands it
out (`sslmode=require&channel_binding=require`). `python -m tests.neon_branch_run`
runs the whole PostgreSQL suite against such a branch the same way.
Everything else Neon does is reproduced locally by the rest of the suite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from src.database.async_connection import build_async_engine
from src.database.connection import build_engine
from tests.conftest import settings_for
from tests.neon_api import Branch, NeonApi, throwaway_branch

SYSTEM_ROOTS = "/etc/ssl/certs/ca-certificates.crt"  # ISRG Root X1 is in the OS store
SSL_STATE = text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
ROUND_TRIP = (
    "CREATE TEMP TABLE neon_check (n int)",
    "INSERT INTO neon_check VALUES (1), (2)",
)


@pytest.fixture(scope="module")
def branch() -> Iterator[Branch]:
    given = os.environ.get("NEON_BRANCH_DIRECT_URI"), os.environ.get("NEON_BRANCH_POOLED_URI")
    if given[0] and given[1]:  # made by `python -m tests.neon_branch_run`, which deletes it
        yield Branch("given", "given", "", "", given[0], given[1])
        return
    api = NeonApi.from_environment()
    if api is None:  # skipped even under CI=true: a real Neon project is opt-in
        pytest.skip("needs a Neon project: set NEON_API_KEY and NEON_PROJECT_ID (quickstart.md)")
    with throwaway_branch(api) as made:
        yield made


@pytest.fixture(params=["direct", "pooler"])
def neon_url(request: pytest.FixtureRequest, branch: Branch) -> URL:
    return make_url(branch.direct_uri if request.param == "direct" else branch.pooled_uri)


URL_FORMS = {
    "as handed out": {},
    "verify-full": {"sslmode": "verify-full", "sslrootcert": SYSTEM_ROOTS},
    "options=endpoint": {"options": "endpoint=<endpoint>"},
    "sslnegotiation=direct": {"sslnegotiation": "direct"},
    "connect_timeout+application_name": {"connect_timeout": "10", "application_name": "neon-ci"},
}


@pytest.mark.parametrize("form", list(URL_FORMS))
async def test_url_form_connects_over_tls_on_both_paths(neon_url: URL, form: str) -> None:
    assert str(neon_url.host).endswith(".neon.tech")
    endpoint = str(neon_url.host).split(".")[0].removesuffix("-pooler")
    query = {k: v.replace("<endpoint>", endpoint) for k, v in URL_FORMS[form].items()}
    settings = settings_for(neon_url.update_query_dict(query), DB_CONNECT_RETRY_BUDGET_S=30)
    engine = build_engine(settings)
    try:
        with engine.connect() as connection:
            assert connection.execute(SSL_STATE).scalar_one() is True
    finally:
        engine.dispose()
    async_engine = build_async_engine(settings)
    try:
        async with async_engine.connect() as connection:
            assert await connection.scalar(SSL_STATE) is True
    finally:
        await async_engine.dispose()


async def test_statements_round_trip_through_both_paths(neon_url: URL) -> None:
    settings = settings_for(neon_url, DB_CONNECT_RETRY_BUDGET_S=30)
    engine = build_engine(settings)
    try:
        with engine.begin() as connection:
            for statement in ROUND_TRIP:
                connection.exec_driver_sql(statement)
            assert connection.exec_driver_sql("SELECT sum(n) FROM neon_check").scalar() == 3
    finally:
        engine.dispose()
    async_engine = build_async_engine(settings)
    try:
        async with async_engine.begin() as connection:
            for statement in ROUND_TRIP:
                await connection.exec_driver_sql(statement)
            assert await connection.scalar(text("SELECT sum(n) FROM neon_check")) == 3
    finally:
        await async_engine.dispose()
