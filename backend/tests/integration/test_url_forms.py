"""The URL forms Neon users paste mean the same on the blocking and the asyncio path.

Both drivers are libpq (psycopg2, psycopg 3), so every form is tried on both,
against the compute and its `-pooler` endpoint, through the stand-in of Neon's
proxy: by endpoint host name (SNI) unless the form is about its absence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from src.database.async_connection import build_async_engine
from src.database.connection import build_engine
from src.errors import DatabaseConnectionError
from tests.conftest import settings_for
from tests.standins.neon_local import PASSWORD, NeonLikeServer
from tests.standins.neon_proxy import ENDPOINT, NeonProxy

STATE = text(
    "SELECT ssl, current_setting('application_name') FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
)


@dataclass(frozen=True)
class Form:
    query: dict[str, str]
    refusal: str | None = None  # a pattern of the error; None: connects over TLS
    without_sni: bool = False  # connect to 127.0.0.1 itself: libpq sends no server name
    pooler_refusal: str | None = None  # where PgBouncer 1.18 differs from Neon's pooler
    extra: dict[str, str] = field(default_factory=dict)


FORMS = {
    "sslmode=require": Form({"sslmode": "require"}),
    "channel_binding=require": Form(
        {"sslmode": "require", "channel_binding": "require"},
        pooler_refusal="channel binding",  # Neon's pooler binds; PgBouncer 1.18 cannot
    ),
    "verify-full+sslrootcert": Form({"sslmode": "verify-full", "sslrootcert": "<certificate>"}),
    "verify-full, no root": Form(
        {"sslmode": "verify-full", "sslrootcert": "/nonexistent/root.crt"},
        refusal="root certificate file",
    ),
    "connect_timeout": Form({"sslmode": "require", "connect_timeout": "3"}),
    "application_name": Form({"sslmode": "require", "application_name": "billing-api"}),
    "sslnegotiation=direct": Form({"sslmode": "require", "sslnegotiation": "direct"}),
    "options=endpoint": Form(
        {"sslmode": "require", "options": "endpoint=<endpoint>"}, without_sni=True
    ),
    "no SNI, no endpoint": Form(
        {"sslmode": "require"}, refusal="endpoint ID is not specified", without_sni=True
    ),
    "sslmode=disable": Form({"sslmode": "disable"}, refusal="insecure"),
    "unknown parameter": Form(
        {"sslmode": "require", "statement_cache_size": "0"}, refusal="invalid connection option"
    ),
}


def url_for(form: Form, server: NeonLikeServer, proxy: NeonProxy, pooler: bool) -> URL:
    endpoint = f"{ENDPOINT}-pooler" if pooler else ENDPOINT
    query = {
        name: value.replace("<certificate>", str(server.certificate)).replace(
            "<endpoint>", endpoint
        )
        for name, value in form.query.items()
    }
    url = proxy.url(server.direct_url(), pooler=pooler).set(query=query)
    if form.without_sni:
        proxy.require_endpoint = True
        return url.set(host="127.0.0.1")
    return url.update_query_dict({"hostaddr": "127.0.0.1"})


async def connect(url: URL, path: str) -> tuple[bool, str]:
    settings = settings_for(url, DB_CONNECT_RETRY_BUDGET_S=3)
    if path == "blocking":
        engine = build_engine(settings)
        try:
            with engine.connect() as connection:
                ssl, name = connection.execute(STATE).one()
        finally:
            engine.dispose()
    else:
        async_engine = build_async_engine(settings)
        try:
            async with async_engine.connect() as connection:
                ssl, name = (await connection.execute(STATE)).one()
        finally:
            await async_engine.dispose()
    return bool(ssl), str(name)


@pytest.mark.parametrize("endpoint", ["direct", "pooler"])
@pytest.mark.parametrize("path", ["blocking", "asyncio"])
@pytest.mark.parametrize("name", list(FORMS))
async def test_url_form(
    name: str, path: str, endpoint: str, server: NeonLikeServer, proxy: NeonProxy
) -> None:
    form, pooler = FORMS[name], endpoint == "pooler"
    url = url_for(form, server, proxy, pooler)
    refusal = form.refusal or (form.pooler_refusal if pooler else None)
    if refusal is not None:
        with pytest.raises(DatabaseConnectionError, match=r"\(not retried\)") as caught:
            await connect(url, path)
        assert re.search(refusal, str(caught.value))
        assert PASSWORD not in str(caught.value)
        return
    ssl, application_name = await connect(url, path)
    assert ssl is True
    assert application_name == form.query.get("application_name", "todo-data-layer")
    arrival = proxy.arrivals[-1]
    assert arrival.direct_tls == (form.query.get("sslnegotiation") == "direct")
    assert arrival.endpoint == (f"{ENDPOINT}-pooler" if pooler else ENDPOINT)
