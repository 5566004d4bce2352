"""The test servers on a machine that lacks a program, and when they fail to start.

A fresh machine of this project's kind has PostgreSQL but not PgBouncer.
There the tiers that need PgBouncer skip and say how to install it (outside
CI; under CI=true they fail), and a server that fails to start removes what it
had started: no cluster keeps running, no directory stays in the temp dir.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.standins.neon_local import NeonLikeServer
from tests.standins.programs import MissingProgramError, find_program
from tests.standins.uvicorn_server import UvicornServer

BACKEND = Path(__file__).resolve().parents[2]
POOLER_TESTS = [
    "tests/integration/test_resilience.py::test_tls_is_required_and_used",
    "tests/integration/test_async_operations.py::test_async_path_uses_tls_through_the_pooler",
]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if entry.name.isdigit() and int(entry.name) != os.getpid() and text in command:
            found.append(command)
    return found


@pytest.fixture
def squatter() -> Iterator[socket.socket]:
    """A listening socket that never answers: another program holding a port."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener


@pytest.mark.parametrize("taken", ["postgres port", "pooler port"])
def test_a_failed_start_stops_what_it_started_and_removes_its_directory(
    squatter: socket.socket, taken: str
) -> None:
    try:
        for program in ("initdb", "pg_ctl", "pgbouncer", "openssl"):
            find_program(program)
    except MissingProgramError as exc:
        unavailable(str(exc))
    server = NeonLikeServer()
    server.ready_timeout_s = 3
    if taken == "postgres port":  # PostgreSQL cannot bind: fails after initdb
        server.port = squatter.getsockname()[1]
    else:  # PgBouncer starts but cannot listen: fails with PostgreSQL running
        server.pooler_port = squatter.getsockname()[1]
    with pytest.raises(RuntimeError, match=r"pg_ctl failed|PgBouncer does not answer"):
        server.start()
    assert not server.root.exists()
    assert processes_mentioning(str(server.root)) == []


def shadow_path(directory: Path, hidden: str) -> str:
    """A PATH with every program of this one except `hidden`, as on a machine without it."""
    directory.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            target = Path(folder) / name
            if name != hidden and not (directory / name).exists() and os.access(target, os.X_OK):
                (directory / name).symlink_to(target)
    return str(directory)


def run_pytest_without(
    program: str, tmp_path: Path, *, ci: bool
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"CI", "HYPOTHESIS_PROFILE"}}
    environment["PATH"] = shadow_path(tmp_path / "bin", program)
    environment["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    if ci:
        environment["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *POOLER_TESTS],
        cwd=BACKEND,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.skipif(shutil.which("pgbouncer") is None, reason="pgbouncer is already missing")
def test_without_pgbouncer_the_pooler_tests_skip_naming_it_and_how_to_install(
    tmp_path: Path,
) -> None:
    result = run_pytest_without("pgbouncer", tmp_path, ci=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.fullmatch(r"\d+ skipped in .*", output.strip().splitlines()[-1]), output
    assert "pgbouncer is not installed" in output
    assert "apt-get install -y pgbouncer" in output
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing was left in the temp dir


@pytest.mark.skipif(shutil.which("pgbouncer") is None, reason="pgbouncer is already missing")
def test_without_pgbouncer_the_pooler_tests_fail_under_ci(tmp_path: Path) -> None:
    result = run_pytest_without("pgbouncer", tmp_path, ci=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "skipped" not in output.splitlines()[-1]
    assert "pgbouncer is not installed" in output
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_uvicorn_that_never_answers_is_stopped_with_its_workers(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "EXAMPLE_TOKEN_SECRET"}
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path / 'todo.db'}"
    server = UvicornServer("examples.sync_app:app", environment, workers=2)  # no token secret
    server.ready_timeout_s = 3
    with pytest.raises(RuntimeError, match=r"uvicorn (did not answer|exited)"):
        server.start()
    assert not server.process_group_alive()
    assert not server.root.exists()
