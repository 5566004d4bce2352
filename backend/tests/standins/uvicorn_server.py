"""The example service under a real uvicorn, in a process group of its own.

`start()` returns once the service answers HTTP; if it never does, everything
it started (the supervisor and its workers) is stopped and its directory
removed before the error is raised. `stop()` keeps the log in `self.log`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

import httpx2

from tests.standins.neon_local import free_port

BACKEND = Path(__file__).resolve().parents[2]


class UvicornServer:
    def __init__(
        self, app: str, environment: dict[str, str], workers: int = 2, launcher: str = "uvicorn"
    ) -> None:
        """`launcher`: the module run as `python -m <launcher>`, uvicorn's command line."""
        self.app = app
        self.launcher = launcher
        self.environment = environment
        self.workers = workers
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="uvicorn-"))
        self.log = ""
        self.ready_timeout_s = 30.0
        self._process: subprocess.Popen[bytes] | None = None
        self.stopped_group: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def process_group(self) -> int | None:
        """The running server's process group (the supervisor's pid), or None if stopped."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        with (self.root / "uvicorn.log").open("wb") as log:
            self._process = subprocess.Popen(
                [
                    *(sys.executable, "-m", self.launcher, self.app, "--host", "127.0.0.1"),
                    *("--port", str(self.port), "--workers", str(self.workers)),
                    "--no-access-log",
                ],
                cwd=BACKEND,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"uvicorn exited with {self._process.returncode}: {self._tail()}"
                )
            with suppress(httpx2.TransportError):
                if httpx2.get(f"{self.base_url}/openapi.json", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"uvicorn did not answer within {self.ready_timeout_s} s: {self._tail()}"
        )

    def stop(self) -> None:
        """Stop the supervisor and every worker, keep the log, remove the directory."""
        if self._process is not None:
            with suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
            self.stopped_group = self._process.pid
            if not self._group_gone(timeout_s=5):  # workers that outlived the supervisor
                with suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._group_gone(timeout_s=5)
            self._process = None  # its id may be reused: never signal it again
        with suppress(OSError):
            self.log = (self.root / "uvicorn.log").read_text(errors="replace")
        shutil.rmtree(self.root, ignore_errors=True)

    def process_group_alive(self) -> bool:
        """Whether a process of the (last) uvicorn process group still runs (zombies do not)."""
        group = self._process.pid if self._process is not None else self.stopped_group
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[2]) == group and fields[0] != "Z":
                    return True
        return False

    def _group_gone(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.process_group_alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _tail(self) -> str:
        with suppress(OSError):
            return (self.root / "uvicorn.log").read_text(errors="replace")[-1500:]
        return ""
