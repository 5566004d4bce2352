"""Read-your-writes across workers and instances: the client carries its position in a cookie.

With read replicas (`DATABASE_REPLICA_URLS`), a write's answer sets the
cookie `todo_read_position` to a signed WAL position (`src.database.read_positions`);
each request's session reads it back (`SessionDep`, `AsyncSessionDep`), so a
replica serves the client's reads only once it has replayed the client's last
write, whichever process served the write. A client that keeps cookies needs
nothing else; one that drops them reads from the primary, as does a first
request. A forged or altered cookie counts as none. Without replicas no
cookie is read or set.

The cookie is set on FastAPI's per-request `Response` as soon as the write
commits, so it travels with the endpoint's answer; an error answered by an
exception handler carries none (the write was not acknowledged). It is
`HttpOnly` and `SameSite=Lax`, `Secure` when the request came over https, and
lasts for the browser session.
"""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.orm import Session

from src.database import read_your_writes

COOKIE = "todo_read_position"


def follow_client(session: Session, request: Request, response: Response) -> None:
    """Give `session` the position in the request's cookie; set the cookie after each write."""
    prefix = f"{COOKIE}=".encode()

    def hand_back(token: str) -> None:
        response.raw_headers[:] = [  # one cookie per answer: the last write's
            (name, value)
            for name, value in response.raw_headers
            if not (name == b"set-cookie" and value.startswith(prefix))
        ]
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    read_your_writes.follow(session, request.cookies.get(COOKIE), hand_back)
