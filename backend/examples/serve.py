"""uvicorn's own command line, with Nagle's algorithm off on every connection under `--workers`.

uvicorn 0.54 binds the listening socket of `--workers N` itself, with
`socket.socket(family=family)`, so its protocol is 0; accepted connections
inherit that, and asyncio turns on TCP_NODELAY only for sockets that report
IPPROTO_TCP. Every keep-alive response written in two parts (headers, body)
then waits for the client's delayed ACK: about 44 ms per request on Linux
(Kludex/uvicorn#3149, open). This launcher binds the listener with
IPPROTO_TCP and changes nothing else; README.md runs the example with it, and
the service benchmark runs both of its services with it:

    python -m examples.serve examples.sync_app:app --workers 2
"""

from __future__ import annotations

import socket
import types
from typing import Any

import uvicorn.config
from uvicorn.main import main


def _tcp_socket(
    family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0, fileno: Any = None
) -> socket.socket:
    if fileno is None and proto == 0 and family in (socket.AF_INET, socket.AF_INET6):
        proto = socket.IPPROTO_TCP
    return socket.socket(family, type, proto, fileno)


class _SocketModule(types.ModuleType):
    """`socket` as uvicorn.config sees it: the same module, with `_tcp_socket` as `socket`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(socket, name)


_sockets = _SocketModule("socket")
_sockets.socket = _tcp_socket  # type: ignore[attr-defined]
uvicorn.config.socket = _sockets  # type: ignore[attr-defined]

if __name__ == "__main__":
    main()
