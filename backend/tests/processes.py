"""Running the package's programs as a user would: a new Python process with its own settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[1]
# The variables the package and its examples read: a test names the ones it means.
PACKAGE_VARIABLES = ("DATABASE_", "DB_", "APP_ENV", "CURSOR_", "JWT_", "EXAMPLE_")


def run_python(
    arguments: Sequence[str],
    variables: Mapping[str, str],
    *,
    cwd: Path,
    merge_output: bool = False,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`python ARGUMENTS` in `cwd` with `variables` and none of the package's inherited ones.

    `cwd` is the test's own directory, never `backend/`, where a developer's `.env`
    would be read; `src` and `examples` are importable from any `cwd`. `merge_output`
    sends stderr to stdout in the order the process wrote them (as a terminal shows
    them). Never raises on exit status.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith(PACKAGE_VARIABLES)}
    environment |= {"PYTHONPATH": str(BACKEND), **variables}
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
    )
