"""`DATABASE_REPLICA_URLS`: read-only endpoints, held to `DATABASE_URL`'s rules.

A comma-separated list (or a list, from code). A new URL starts at a comma
followed by a scheme (`postgresql://`): a comma inside a URL (an `options`
value, a password's allowed characters) stays where it is. Each URL goes
through `parse_database_url`, so it is normalised, refused and masked exactly
as `DATABASE_URL` is; an error names the list and the URL's place in it, never
its text. Replicas are PostgreSQL endpoints (a Neon read replica's host, or
its `-pooler` host).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import URL

from src.errors import DatabaseURLError, DataLayerError

_NEXT_URL = re.compile(r",\s*(?=[A-Za-z][A-Za-z0-9+.\-]*://)")
MAX_REPLICAS = 16


class ReplicaURLError(DatabaseURLError):
    """A `DATABASE_REPLICA_URLS` entry breaks a rule; the message names its place, not its text."""

    def __init__(self, place: int | None, rule: str) -> None:
        where = "DATABASE_REPLICA_URLS" if place is None else f"DATABASE_REPLICA_URLS, URL {place}"
        DataLayerError.__init__(self, f"{where}: {rule}")
        self.rule = rule


def parse_replica_urls(value: Any) -> tuple[URL, ...]:
    """The replica URLs in `value` (a string, a list of them, or nothing), validated."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = [part for part in _NEXT_URL.split(value) if part.strip()]
        if value.strip() and not items:
            raise ReplicaURLError(None, "is not a comma-separated list of URLs")
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ReplicaURLError(None, "must be a string of comma-separated URLs")
    if len(items) > MAX_REPLICAS:
        raise ReplicaURLError(None, f"at most {MAX_REPLICAS} URLs")
    return tuple(_one(place, item) for place, item in enumerate(items, start=1))


def _one(place: int, item: Any) -> URL:
    if isinstance(item, URL):
        item = item.render_as_string(hide_password=False)
    if not isinstance(item, str):
        raise ReplicaURLError(place, "must be a string")
    from src.config.settings import parse_database_url  # noqa: PLC0415  settings imports this module

    try:
        url = parse_database_url(item.strip().rstrip(","))
    except DatabaseURLError as exc:
        raise ReplicaURLError(place, exc.rule) from None
    if url.get_backend_name() != "postgresql":
        raise ReplicaURLError(place, "a read replica is a PostgreSQL endpoint (postgresql://)")
    return url
