"""uvicorn's own command line, with Nagle's algorithm off on every connection under `--workers`.

uvicorn 0.54 binds the listening socket of `--workers N` itself, with
`socket.socket(family=family)`, so its protocol is 0; accepted connections
inherit that, and asyncio turns on TCP_NODELAY only for sockets that report
IPPROTO_TCP. Every keep-alive response written in two parts (headers, body)
then waits for the client's delayed ACK: about 44 ms per request on Linux
(Kludex/uvicorn#3149, open). This launcher binds the listener with
IPPROTO_TCP, shows the package's INFO lines, and exits with status 3 and one
line when the app or a worker refuses to start, as a single process does
(below); it changes nothing else. README.md runs the example with it, and the
service benchmark runs both of its services with it:

    python -m examples.serve examples.sync_app:app --workers 2
"""

from __future__ import annotations

import socket
import sys
import types
from typing import Any

import click
import uvicorn.config
from dotenv import load_dotenv
from uvicorn.config import STARTUP_FAILURE
from uvicorn.importer import import_from_string
from uvicorn.main import main
from uvicorn.supervisors import Multiprocess

from src.errors import DataLayerError


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
# The package's start-up lines (where DATABASE_URL came from, the schema revision, the
# connection-capacity check) at INFO beside uvicorn's own: uvicorn's logging configuration
# names only its loggers, so without this they would reach no handler. Every worker gets it:
# the configuration travels to the worker processes inside uvicorn's Config.
uvicorn.config.LOGGING_CONFIG["loggers"]["src"] = {
    "handlers": ["default"],
    "level": "INFO",
    "propagate": False,
}


def _run_then_report_a_failed_start(self: Multiprocess) -> None:
    """uvicorn's `--workers` supervisor, ending with status 3 when a worker could not start.

    A worker that refuses to start (an unmigrated database, a setting that breaks
    its rule) stops the parent, which then exits 0 as if asked to stop: a process
    supervisor would take the refusal for a clean shutdown. A single process exits 3.
    """
    _supervise(self)
    if any(process.exitcode == STARTUP_FAILURE for process in self.processes):
        sys.exit(STARTUP_FAILURE)


_supervise = Multiprocess.run
Multiprocess.run = _run_then_report_a_failed_start  # type: ignore[method-assign]


def refuse_an_app_that_cannot_be_built(arguments: list[str]) -> None:
    """Import the app once here; a refusal while building it ends the launcher with one line.

    The example reads its token key when its module is imported. Under
    `--workers` each worker imports it, and a refusal there (no
    `EXAMPLE_TOKEN_SECRET`, a key that does not look generated, a `JWT_*`
    setting out of range) printed a 40-line traceback per worker while the
    parent kept waiting. The arguments are read by uvicorn's own parser, and
    `--env-file` and `--app-dir` applied as uvicorn applies them, so this
    import sees what the workers will. Any other failure is left to uvicorn.
    """
    try:
        options = main.make_context("uvicorn", list(arguments), resilient_parsing=True).params
    except click.ClickException:
        return
    if not options.get("app"):
        return
    if options.get("env_file"):
        load_dotenv(dotenv_path=options["env_file"])  # as uvicorn's Config does
    sys.path.insert(0, options.get("app_dir") or ".")
    try:
        import_from_string(options["app"])
    except DataLayerError as refusal:
        print(f"refusing to start: {refusal}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)
    except Exception:  # noqa: S110  uvicorn reports these its own way
        pass


if __name__ == "__main__":
    refuse_an_app_that_cannot_be_built(sys.argv[1:])
    main()
