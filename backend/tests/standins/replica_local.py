"""A primary and a hot standby made from it, on this machine, each with PgBouncer in front.

A Neon read replica is a read-only compute replaying the primary's WAL, with
its own endpoint (and its own `-pooler` endpoint). The stand-in: a throwaway
primary (`initdb` in a temporary directory owned by `postgres`), a standby
copied from it with `pg_basebackup -R` (streaming replication, hot standby),
and a PgBouncer in transaction mode in front of each. Lag is made
deterministic with `recovery_min_apply_delay` or by pausing replay, never
waited for by the clock alone. `initdb`, `pg_ctl`, `pg_basebackup` and
`pgbouncer` refuse to run as root, so they run as `postgres` (`runuser`).

`start()` removes whatever it started if any step fails; `stop()` never
raises and removes the directory. Connections are plain TCP with SCRAM
passwords (TLS is `neon_local.py`'s subject, not this one's).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import closing, suppress
from pathlib import Path

import psycopg2
from sqlalchemy.engine import URL

from src.config.settings import Settings
from src.database.connection import build_engine
from src.database.migrations import upgrade_to_head
from src.database.roles import grant_application_role
from tests.standins.neon_config import userlist
from tests.standins.neon_local import APP_USER, PASSWORD, USER, free_port
from tests.standins.programs import find_program

DATABASE = "replicadb"
_HBA = "local all all trust\nlocal replication all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"


class Node:
    """One PostgreSQL server of the pair and the PgBouncer in front of it."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.data = root / name
        self.port = free_port()
        self.pooler_port = free_port()

    def url(self, role: str = APP_USER, *, pooled: bool = False) -> URL:
        port = self.pooler_port if pooled else self.port
        return URL.create("postgresql", role, PASSWORD, "127.0.0.1", port, DATABASE)

    def admin(self, database: str = DATABASE) -> psycopg2.extensions.connection:
        """A superuser connection over the Unix socket, autocommit."""
        connection = psycopg2.connect(
            host=str(self.root), port=self.port, user="postgres", dbname=database
        )
        connection.autocommit = True
        return connection

    def sql(self, statement: str) -> object:
        """Run one statement as the superuser (a fixed string from a test); its first value."""
        with closing(self.admin()) as connection, connection.cursor() as cursor:
            cursor.execute(statement)
            row = cursor.fetchone() if cursor.description else None
            return None if row is None else row[0]


class ReplicatedServer:
    """Start with `start()`, stop with `stop()`; `primary` and `standby` name the two nodes."""

    def __init__(self, *, max_connections: int = 40) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="replicas-"))
        self.primary = Node(self.root, "primary")
        self.standby = Node(self.root, "standby")
        self.max_connections = max_connections
        self._poolers: list[str] = []
        self._standby_settings: dict[str, str] = {}  # changed by a test: their values before
        self._programs: dict[str, str] = {}
        self._as_postgres: list[str] = []

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._find_programs()
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop both poolers and both servers, remove the directory; never raises."""
        for label in self._poolers:
            with suppress(ProcessLookupError, ValueError, OSError):
                pid = (self.root / f"{label}-pgbouncer.pid").read_text().strip()
                os.kill(int(pid), signal.SIGTERM)
        for node in (self.standby, self.primary):
            with suppress(OSError, RuntimeError, KeyError, subprocess.SubprocessError):
                self.stop_node(node, "immediate")
            with suppress(ProcessLookupError, ValueError, OSError):  # if pg_ctl could not
                os.kill(int((node.data / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def stop_node(self, node: Node, mode: str = "fast") -> None:
        if (node.data / "postmaster.pid").exists():
            self._run(self._programs["pg_ctl"], "-D", str(node.data), "-m", mode, "-w", "stop")

    def start_node(self, node: Node) -> None:
        log = str(self.root / f"{node.name}.log")
        self._run(
            self._programs["pg_ctl"], "-D", str(node.data), "-l", log, "-w", "-t", "60", "start"
        )

    def stop_compute(self, node: Node) -> None:
        """Stop a node and its pooler at once, as a Neon compute goes down with the PgBouncer
        that runs on it (a pooler left up would hold queries for its query_wait_timeout)."""
        self.stop_pooler(node, "")
        self.stop_node(node, "immediate")

    def start_compute(self, node: Node) -> None:
        self.start_node(node)
        self.start_pooler(node)

    def configure_standby(self, **settings: str) -> None:
        """`ALTER SYSTEM SET` each setting on the standby and reload it (e.g. an apply delay)."""
        with closing(self.standby.admin("postgres")) as connection, connection.cursor() as cursor:
            for name, value in settings.items():
                cursor.execute(f"SELECT current_setting('{name}')")
                row = cursor.fetchone()
                self._standby_settings.setdefault(name, str(row[0] if row else ""))
                cursor.execute(f"ALTER SYSTEM SET {name} = %s", (value,))
            cursor.execute("SELECT pg_reload_conf()")

    def migrate(self) -> None:
        """The schema on the primary, by its owner; the application role granted its part."""
        engine = build_engine(Settings(_env_file=None, DATABASE_URL=self.primary.url(USER)))
        try:
            upgrade_to_head(engine)
            with engine.begin() as connection:
                grant_application_role(connection, APP_USER)
        finally:
            engine.dispose()
        self.wait_for_replay()

    def reset_standby(self) -> None:
        """Undo what a test did to the standby: running, replaying, no settings of its own."""
        if not (self.standby.data / "postmaster.pid").exists():
            self.start_compute(self.standby)
        with closing(self.standby.admin("postgres")) as connection, connection.cursor() as cursor:
            for name, value in self._standby_settings.items():  # as they were, not RESET:
                cursor.execute(f"ALTER SYSTEM SET {name} = %s", (value,))  # primary_conninfo
            self._standby_settings.clear()
            cursor.execute("SELECT pg_reload_conf()")
            cursor.execute("SELECT pg_wal_replay_resume()")
        self.wait_for_replay()

    def standby_title(self, user_id: int, todo_id: int) -> str | None:
        """A naive read: the todo's title straight from the standby, as the application role
        naming `user_id` (None: not there, or not that user's)."""
        dsn = self.standby.url().set(drivername="postgresql").render_as_string(hide_password=False)
        with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
            cursor.execute(f"SET app.current_user_id = '{int(user_id)}'")
            cursor.execute("SELECT title FROM todo WHERE id = %s", (todo_id,))
            row = cursor.fetchone()
        return None if row is None else str(row[0])

    def wait_for_replay(self, timeout_s: float = 30.0) -> None:
        """Until the standby has replayed everything the primary wrote so far.

        Up to the insert position (`pg_current_wal_insert_lsn`), after a commit
        that flushes it: the write position can lag behind records still in the
        WAL buffers (a lock, an asynchronous commit), which would not be waited for.
        """
        with closing(self.primary.admin()) as connection, connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = on")
            cursor.execute("SELECT txid_current()")  # a flushed commit record
            cursor.execute("SELECT pg_current_wal_insert_lsn()")
            row = cursor.fetchone()
        target = str(row[0] if row else "")
        deadline = time.monotonic() + timeout_s
        while not self.standby.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the standby did not replay up to {target} in {timeout_s} s")
            time.sleep(0.01)

    def log_of(self, node: Node) -> str:
        return (self.root / f"{node.name}.log").read_text(errors="replace")

    # --- set-up -------------------------------------------------------------------------
    def _find_programs(self) -> None:
        needed = ["initdb", "pg_ctl", "pg_basebackup", "pgbouncer"]
        if os.geteuid() == 0:  # they refuse to run as root
            needed.append("runuser")
        self._programs = {name: find_program(name) for name in needed}
        if os.geteuid() == 0:
            self._as_postgres = [self._programs["runuser"], "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")

    def _start(self) -> None:
        primary, standby = self.primary, self.standby
        self._run(
            self._programs["initdb"], "-D", str(primary.data), "-U", "postgres",
            "--auth-local=trust", "--auth-host=reject", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        (primary.data / "pg_hba.conf").write_text(_HBA)
        self._append_conf(
            primary,
            f"listen_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
            f"max_connections = {self.max_connections}\nwal_level = replica\n"
            "max_wal_senders = 4\nhot_standby = on\npassword_encryption = 'scram-sha-256'\n"
            "fsync = off\nfull_page_writes = off\n",
        )
        self.start_node(primary)
        with closing(primary.admin("postgres")) as connection, connection.cursor() as cursor:
            for role in (USER, APP_USER):
                cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (PASSWORD,))
            cursor.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")
        self._run(
            self._programs["pg_basebackup"], "-D", str(standby.data), "-R", "-X", "stream",
            "-h", str(self.root), "-p", str(primary.port), "-U", "postgres",
            "--no-sync", "--checkpoint=fast",
        )  # fmt: skip
        self._append_conf(standby, "max_standby_streaming_delay = 30s\n")
        self.start_node(standby)
        for node in (primary, standby):
            self.start_pooler(node)

    def _append_conf(self, node: Node, text: str) -> None:
        with (node.data / "postgresql.conf").open("a") as conf:
            conf.write(f"{text}port = {node.port}\n")  # the standby's copy: its own port last

    def start_pooler(self, node: Node, name: str = "", settings: str = "") -> int:
        """Start a PgBouncer (transaction mode) in front of `node`; its port.

        `name` tells a test's own pooler from the node's; `settings` are extra
        `[pgbouncer]` lines (a tight pool, a short `query_wait_timeout`).
        """
        label = f"{node.name}{name}"
        port = node.pooler_port if not name else free_port()
        ini = self.root / f"{label}-pgbouncer.ini"
        (self.root / "userlist.txt").write_text(userlist({USER: PASSWORD, APP_USER: PASSWORD}))
        ini.write_text(
            f"[databases]\n* = host=127.0.0.1 port={node.port}\n[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = scram-sha-256\nauth_file = {self.root}/userlist.txt\n"
            "pool_mode = transaction\nmax_client_conn = 200\ndefault_pool_size = 20\n"
            f"logfile = {self.root}/{label}-pgbouncer.log\n"
            f"pidfile = {self.root}/{label}-pgbouncer.pid\n"
            f"server_check_delay = 0\nserver_login_retry = 1\n{settings}"
        )
        if self._as_postgres:
            for path in (ini, self.root / "userlist.txt"):
                shutil.chown(path, "postgres", "postgres")
        if label not in self._poolers:
            self._poolers.append(label)
        self._run(self._programs["pgbouncer"], "-d", str(ini))
        dsn = node.url(USER).set(port=port).render_as_string(hide_password=False)
        deadline = time.monotonic() + 15
        while True:
            try:
                with closing(psycopg2.connect(dsn, connect_timeout=2)) as connection:
                    connection.cursor().execute("SELECT 1")
                    return port
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop_pooler(self, node: Node, name: str) -> None:
        """Stop a pooler `start_pooler(node, name)` started."""
        label = f"{node.name}{name}"
        with suppress(ProcessLookupError, ValueError, OSError):
            pid = int((self.root / f"{label}-pgbouncer.pid").read_text().strip())
            os.kill(pid, signal.SIGTERM)
            while Path(f"/proc/{pid}").exists():
                time.sleep(0.02)
        if label in self._poolers:
            self._poolers.remove(label)

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self._as_postgres, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {result.stderr or result.stdout}")
