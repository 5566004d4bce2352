"""`python -m examples.serve`: uvicorn's command line with Nagle's algorithm off under --workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2]

_CHECK = """
import socket
import uvicorn.config
plain = uvicorn.config.socket.socket(family=socket.AF_INET)
print(plain.proto)
plain.close()
import examples.serve  # noqa: F401  patches the socket uvicorn.config binds
launched = uvicorn.config.socket.socket(family=socket.AF_INET)
print(launched.proto)
launched.close()
"""


def test_the_launcher_binds_the_listener_as_tcp_where_uvicorn_does_not() -> None:
    """asyncio sets TCP_NODELAY on accepted sockets only when the listener says IPPROTO_TCP."""
    result = subprocess.run(
        [sys.executable, "-c", _CHECK],
        cwd=BACKEND,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", str(6)]  # 6: IPPROTO_TCP
