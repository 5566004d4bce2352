"""The system programs the test servers run, and what to say when one is missing.

PostgreSQL's own binaries live outside PATH on Debian (/usr/lib/postgresql/<n>/bin);
everything else is looked up on PATH only, so a test can hide a program by
running with a PATH that lacks it.
"""

from __future__ import annotations

import glob
import shutil

# What to install on Debian or Ubuntu for each program; scripts/test.sh does it when run as root.
PACKAGES = {
    "initdb": "postgresql",
    "pg_ctl": "postgresql",
    "pgbouncer": "pgbouncer",
    "openssl": "openssl",
    "runuser": "util-linux",
}


class MissingProgramError(RuntimeError):
    """A test server needs a program this machine does not have."""

    def __init__(self, program: str) -> None:
        package = PACKAGES.get(program, program)
        super().__init__(
            f"{program} is not installed: install it with `apt-get install -y {package}` "
            "(scripts/test.sh does this when run as root)"
        )
        self.program = program


def find_program(name: str) -> str:
    """The path of `name`; PostgreSQL's server binaries are found in their own directory."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_order)
    path = found[-1] if found else shutil.which(name)
    if path is None:
        raise MissingProgramError(name)
    return path


def _version_order(path: str) -> tuple[int, ...]:
    version = path.split("/")[4]
    return tuple(int(part) for part in version.split(".") if part.isdigit())
