"""A Neon-shaped PostgreSQL on this machine: TLS only, and PgBouncer in transaction mode.

Neon accepts only TLS connections, authenticates with SCRAM, and offers a
`-pooler` endpoint that is PgBouncer in transaction mode. This starts the same
shape from scratch in a temporary directory: a throwaway cluster (own port,
self-signed certificate, `hostssl` only) and a PgBouncer in front of it.
`initdb`, `pg_ctl` and `pgbouncer` refuse to run as root, so they run as the
`postgres` user when the tests run as root.
"""

from __future__ import annotations

import glob
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

from tests.neon_proxy import NeonProxy

PASSWORD = "neon-like-secret-7f3a"
USER = "neon_app"  # owns the database and its tables: runs migrations
APP_USER = "neon_app_rw"  # least privilege: what the application connects as


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or name]
    return found[-1]


class NeonLikeServer:
    """Start with `start()`, stop with `stop()`; `direct_url` and `pooler_url` connect."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="neon-like-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.pooler_port = free_port()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            _bin("initdb"),
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
        self._run("pgbouncer", "-d", str(self.root / "pgbouncer.ini"))
        self._wait_for(self.pooler_port)

    def stop(self) -> None:
        pid_file = self.root / "pgbouncer.pid"
        if pid_file.exists():
            with suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        self.stop_postgres()
        shutil.rmtree(self.root, ignore_errors=True)

    def start_postgres(self) -> None:
        self._run(
            _bin("pg_ctl"),
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
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart_postgres(self) -> None:
        self.stop_postgres("immediate")
        self.start_postgres()

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
            "openssl",
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
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nssl = on\n"
                f"ssl_cert_file = '{self.root}/server.crt'\n"
                f"ssl_key_file = '{self.root}/server.key'\n"
                "password_encryption = 'scram-sha-256'\nmax_connections = 60\n"
                "fsync = off\nfull_page_writes = off\n"
            )
        (self.data / "pg_hba.conf").write_text(
            "local all postgres trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostnossl all all 0.0.0.0/0 reject\n"
        )

    def _create_role_and_database(self) -> None:
        with closing(self.admin()) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {USER} LOGIN PASSWORD %s", (PASSWORD,))
            cursor.execute(f"CREATE ROLE {APP_USER} LOGIN PASSWORD %s", (PASSWORD,))
            cursor.execute(f"CREATE DATABASE neondb OWNER {USER}")

    def _configure_pgbouncer(self) -> None:
        (self.root / "userlist.txt").write_text(
            f'"{USER}" "{PASSWORD}"\n"{APP_USER}" "{PASSWORD}"\n'
        )
        (self.root / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.pooler_port}\n"
            f"unix_socket_dir = {self.root}\n"
            f"auth_type = scram-sha-256\nauth_file = {self.root}/userlist.txt\n"
            "pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 20\n"
            f"client_tls_sslmode = require\nclient_tls_key_file = {self.root}/server.key\n"
            f"client_tls_cert_file = {self.root}/server.crt\nserver_tls_sslmode = require\n"
            f"logfile = {self.root}/pgbouncer.log\npidfile = {self.root}/pgbouncer.pid\n"
            "server_check_delay = 0\n"
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

    def _wait_for(self, port: int, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


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
