"""A Neon-shaped PostgreSQL on this machine: TLS only, and PgBouncer in transaction mode.

Neon accepts only TLS connections, authenticates with SCRAM, and offers a
`-pooler` endpoint that is PgBouncer in transaction mode. This starts the same
shape from scratch in a temporary directory: a throwaway cluster (own port,
self-signed certificate, `hostssl` only) and a PgBouncer in front of it.
`initdb`, `pg_ctl` and `pgbouncer` refuse to run as root, so they run as the
`postgres` user when the tests run as root.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

import psycopg2
from sqlalchemy.engine import URL

from tests.standins.neon_config import PG_HBA, pgbouncer_ini, postgresql_conf, userlist
from tests.standins.neon_proxy import NeonProxy
from tests.standins.programs import find_program

PASSWORD = "neon-like-secret-7f3a"
USER = "neon_app"  # owns the database and its tables: runs migrations
APP_USER = "neon_app_rw"  # least privilege: what the application connects as


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class NeonLikeServer:
    """Start with `start()`, stop with `stop()`; `direct_url` and `pooler_url` connect."""

    def __init__(
        self, server_login_retry_s: int = 15, pooler_logins: dict[str, str] | None = None
    ) -> None:
        """`server_login_retry_s`: PgBouncer's wait after a failed server login (its default).

        `pooler_logins`: roles (name: password) the pooler lets in besides the two made
        here. Neon's pooler lets in every role of the project, including roles created
        later with SQL; this PgBouncer knows only the roles in its auth file, so a test
        that creates a role names it here first.
        """
        self.server_login_retry_s = server_login_retry_s
        self.pooler_logins = dict(pooler_logins or {})
        self.root = Path(tempfile.mkdtemp(prefix="neon-like-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.pooler_port = free_port()
        self._as_postgres: list[str] = []
        self._programs: dict[str, str] = {}
        self.ready_timeout_s = 15.0

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start both servers; on any failure, remove whatever was started, then raise.

        `MissingProgramError` (before anything starts) names a program that is not installed.
        """
        try:
            self._find_programs()
            self._start()
        except BaseException:
            self.stop()
            raise

    def _find_programs(self) -> None:
        needed = ["initdb", "pg_ctl", "pgbouncer", "openssl"]
        if os.geteuid() == 0:  # initdb, pg_ctl and pgbouncer refuse to run as root
            needed.append("runuser")
        self._programs = {name: find_program(name) for name in needed}
        if os.geteuid() == 0:
            self._as_postgres = [self._programs["runuser"], "-u", "postgres", "--"]

    def _start(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            self._programs["initdb"],
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=reject",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self._make_certificate()
        self._configure_postgres()
        self.start_postgres()
        self._create_role_and_database()
        self._configure_pgbouncer()
        self._run(self._programs["pgbouncer"], "-d", str(self.root / "pgbouncer.ini"))
        self._wait_for_pooler()

    def stop(self) -> None:
        """Stop PgBouncer and PostgreSQL if they run, and remove the directory; never raises."""
        with suppress(ProcessLookupError, ValueError, OSError):
            pid = int((self.root / "pgbouncer.pid").read_text().strip())
            os.kill(pid, signal.SIGTERM)
        with suppress(OSError, RuntimeError, KeyError, subprocess.SubprocessError):
            self.stop_postgres()
        with suppress(ProcessLookupError, ValueError, OSError):  # if pg_ctl could not stop it
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def start_postgres(self) -> None:
        self._run(
            self._programs["pg_ctl"],
            "-D",
            str(self.data),
            "-l",
            str(self.root / "pg.log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop_postgres(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            pg_ctl = self._programs["pg_ctl"]
            self._run(pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart_postgres(self) -> None:
        self.stop_postgres("immediate")
        self.start_postgres()

    def restart_pooler(self) -> None:
        """Stop PgBouncer (it closes every client connection) and start it again, as a
        pooler restart or fail-over does; returns once it answers again."""
        pid = int((self.root / "pgbouncer.pid").read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self._run(self._programs["pgbouncer"], "-d", str(self.root / "pgbouncer.ini"))
        self._wait_for_pooler()

    def terminate_backends(self) -> int:
        """Drop every client connection, as a compute suspend does; returns how many."""
        with closing(self.admin()) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            row = cursor.fetchone()
            assert row is not None
            return int(row[0])

    @property
    def certificate(self) -> Path:
        """The server's self-signed certificate: a client's `sslrootcert` for verify-full."""
        return self.root / "server.crt"

    @property
    def key(self) -> Path:
        return self.root / "server.key"

    def admin_sql(self, statement: str) -> None:
        """Run one statement as the superuser (a fixed string from a test)."""
        with closing(self.admin()) as connection, connection.cursor() as cursor:
            cursor.execute(statement)

    # --- URLs ---------------------------------------------------------------------------
    def direct_url(self, database: str = "neondb") -> URL:
        return URL.create(
            "postgresql", USER, PASSWORD, "127.0.0.1", self.port, database, {"sslmode": "require"}
        )

    def pooler_url(self, database: str = "neondb") -> URL:
        return self.direct_url(database).set(port=self.pooler_port)

    def app_pooler_url(self, database: str = "neondb") -> URL:
        """Through the pooler as the least-privilege role, as the application connects."""
        return self.pooler_url(database).set(username=APP_USER)

    def admin(self) -> psycopg2.extensions.connection:
        connection = psycopg2.connect(
            host=str(self.root), port=self.port, user="postgres", dbname="postgres"
        )
        connection.autocommit = True
        return connection

    # --- set-up -------------------------------------------------------------------------
    def _make_certificate(self) -> None:
        self._run(
            self._programs["openssl"],
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,DNS:*.neon.localtest,IP:127.0.0.1",
            "-keyout",
            str(self.root / "server.key"),
            "-out",
            str(self.root / "server.crt"),
        )
        (self.root / "server.key").chmod(0o600)

    def _configure_postgres(self) -> None:
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(postgresql_conf(self.root, self.port))
        (self.data / "pg_hba.conf").write_text(PG_HBA)

    def _create_role_and_database(self) -> None:
        with closing(self.admin()) as connection, connection.cursor() as cursor:
            # CREATEROLE: Neon's owner role (neondb_owner, in neon_superuser) may create roles.
            cursor.execute(f"CREATE ROLE {USER} LOGIN CREATEROLE PASSWORD %s", (PASSWORD,))
            cursor.execute(f"CREATE ROLE {APP_USER} LOGIN PASSWORD %s", (PASSWORD,))
            cursor.execute(f"CREATE DATABASE neondb OWNER {USER}")

    def _configure_pgbouncer(self) -> None:
        logins = {USER: PASSWORD, APP_USER: PASSWORD, **self.pooler_logins}
        (self.root / "userlist.txt").write_text(userlist(logins))
        (self.root / "pgbouncer.ini").write_text(
            pgbouncer_ini(self.root, self.port, self.pooler_port, self.server_login_retry_s)
        )
        if self._as_postgres:
            for name in ("userlist.txt", "pgbouncer.ini", "server.key", "server.crt"):
                shutil.chown(self.root / name, "postgres", "postgres")

    def _run(self, *command: str, check: bool = True) -> None:
        result = subprocess.run(
            [*self._as_postgres, *command],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stderr or result.stdout}")

    def _wait_for_pooler(self) -> None:
        """Until PgBouncer answers a query; it starts even when it cannot take its port."""
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            try:
                dsn = self.pooler_url().render_as_string(hide_password=False)
                with closing(psycopg2.connect(dsn, connect_timeout=2)) as connection:
                    connection.cursor().execute("SELECT 1")
                    return
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline:
                    log = (self.root / "pgbouncer.log").read_text(errors="replace")[-600:]
                    raise RuntimeError(
                        f"PgBouncer does not answer on 127.0.0.1:{self.pooler_port} after "
                        f"{self.ready_timeout_s} s: {exc}; its log ends: {log}"
                    ) from None
            time.sleep(0.1)


@contextmanager
def neon_stack() -> Iterator[tuple[NeonLikeServer, NeonProxy]]:
    """The cluster, its pooler and Neon's proxy in front; all stopped on every way out."""
    server = NeonLikeServer()
    proxy: NeonProxy | None = None
    try:
        server.start()
        proxy = NeonProxy(server.certificate, server.key, server.port, server.pooler_port)
        proxy.start()
        yield server, proxy
    finally:
        if proxy is not None:
            proxy.stop()
        server.stop()
