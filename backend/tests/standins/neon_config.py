"""The configuration files of the Neon-like server (see `neon_local.py`), as text.

PostgreSQL takes TLS connections only, with SCRAM passwords, as Neon does;
PgBouncer runs in transaction mode with TLS on both sides, as Neon's
`-pooler` endpoint does.
"""

from __future__ import annotations

from pathlib import Path

PG_HBA = (
    "local all postgres trust\n"
    "hostssl all all 127.0.0.1/32 scram-sha-256\n"
    "hostnossl all all 0.0.0.0/0 reject\n"
)


def postgresql_conf(root: Path, port: int) -> str:
    """Appended to the cluster's postgresql.conf; durability off, since the data is throwaway."""
    return (
        f"port = {port}\nlisten_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{root}'\nssl = on\n"
        f"ssl_cert_file = '{root}/server.crt'\n"
        f"ssl_key_file = '{root}/server.key'\n"
        "password_encryption = 'scram-sha-256'\nmax_connections = 60\n"
        "fsync = off\nfull_page_writes = off\n"
    )


def pgbouncer_ini(root: Path, port: int, pooler_port: int, server_login_retry_s: int) -> str:
    """After a failed server login PgBouncer refuses clients for `server_login_retry` seconds."""
    return (
        "[databases]\n"
        f"* = host=127.0.0.1 port={port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {pooler_port}\n"
        f"unix_socket_dir = {root}\n"
        f"auth_type = scram-sha-256\nauth_file = {root}/userlist.txt\n"
        "pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 20\n"
        f"client_tls_sslmode = require\nclient_tls_key_file = {root}/server.key\n"
        f"client_tls_cert_file = {root}/server.crt\nserver_tls_sslmode = require\n"
        f"logfile = {root}/pgbouncer.log\npidfile = {root}/pgbouncer.pid\n"
        f"server_check_delay = 0\nserver_login_retry = {server_login_retry_s}\n"
    )


def userlist(users: dict[str, str]) -> str:
    return "".join(f'"{user}" "{password}"\n' for user, password in users.items())
