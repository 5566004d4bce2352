"""The quickstart cannot rot: its local commands are run in a fresh copy of the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from alembic.script import ScriptDirectory
from psycopg2 import sql

from src.database.migrations import alembic_config
from tests.conftest import PostgresServer

REPOSITORY = Path(__file__).resolve().parents[3]
QUICKSTART = REPOSITORY / "specs/001-db-schema/quickstart.md"
DEV_DATABASE = "todo_dev"
DEV_ROLE = "todo_app"


def local_shell_blocks(markdown: str) -> list[str]:
    """The `sh` blocks of every section whose heading starts with 'Local'."""
    blocks: list[str] = []
    for section in re.split(r"^## ", markdown, flags=re.MULTILINE)[1:]:
        if section.startswith("Local"):
            blocks += re.findall(r"^```sh\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    return blocks


def fresh_copy(destination: Path) -> Path:
    """The working tree without ignored files: what a clone of it would hold."""
    tracked = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPOSITORY,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        source = REPOSITORY / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def test_quickstart_has_local_blocks_for_sqlite_and_postgres() -> None:
    blocks = local_shell_blocks(QUICKSTART.read_text())
    assert len(blocks) >= 5
    assert any("src.demo" in b and "DATABASE_URL=postgresql" in b for b in blocks)


def test_every_local_quickstart_command_succeeds(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    database_existed = postgres_server.exists("pg_database", "datname", DEV_DATABASE)
    role_existed = postgres_server.exists("pg_roles", "rolname", DEV_ROLE)
    clone = fresh_copy(tmp_path / "clone")
    script = "set -euxo pipefail\n" + "\n".join(local_shell_blocks(QUICKSTART.read_text()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DB_"))}
    try:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:  # leave the server as it was: drop what the quickstart created
        if not database_existed:
            postgres_server.drop_database(postgres_server.url.set(database=DEV_DATABASE))
        if not role_existed and not database_existed:
            postgres_server.execute(
                sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(DEV_ROLE))
            )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("ada@example.com") == 4  # SQLite twice, PostgreSQL twice
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"{head} (head)" in result.stdout + result.stderr
    assert "row security: enforced by PostgreSQL for this role" in result.stdout
