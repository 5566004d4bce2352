"""A newcomer's path cannot rot: README's command, then every quickstart block, in one shell.

A newcomer followed README and then the quickstart, top to bottom, in one
shell; an `export DATABASE_URL` from the local section outlived it, and the
Neon step's demo ran on local PostgreSQL as the superuser without a hint.
This test runs the same path in a fresh copy of the repository: README's
first command, then every `sh` block of the quickstart in order, in one
`bash`. The Neon steps run against a Neon-shaped stand-in (`NeonLikeServer`:
TLS-only PostgreSQL with SCRAM logins behind PgBouncer in transaction mode),
their hosts and owner rewritten to it. Each run of the main job must report
the database and role its step names, and say where the URL came from.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from psycopg2 import sql
from sqlalchemy.engine import URL, make_url

from src.config.settings import DEFAULT_SQLITE_URL
from src.database.migrations import alembic_config
from tests.conftest import PostgresServer, started_neon_like
from tests.processes import PACKAGE_VARIABLES
from tests.standins.neon_local import PASSWORD, USER, NeonLikeServer

REPOSITORY = Path(__file__).resolve().parents[3]
QUICKSTART = REPOSITORY / "specs/001-db-schema/quickstart.md"
README = REPOSITORY / "README.md"
DEV_DATABASE = "todo_dev"
DEV_ROLE = "todo_app"
NEON_DIRECT_HOST = "ep-example-123456.us-east-2.aws.neon.tech"
NEON_POOLER_HOST = "ep-example-123456-pooler.us-east-2.aws.neon.tech"
# What the quickstart writes as the application's URL: into backend/.env, by `echo` or heredoc.
APP_URL_WRITTEN = re.compile(
    r'^(?:echo ")?DATABASE_URL=(postgresql://[^"\s]+)"?(?: >> \S+)?$', re.M
)
ROLE_CREATED_ON_NEON = re.compile(r"CREATE ROLE (\w+) WITH LOGIN PASSWORD '([^']+)'")


def shell_blocks(markdown: str) -> list[tuple[str, str]]:
    """(section heading, block) for every `sh` block, list indentation removed, in order."""
    blocks = []
    for section in re.split(r"^## ", markdown, flags=re.MULTILINE)[1:]:
        heading = section.splitlines()[0]
        for _, body in re.findall(r"^( *)```sh\n(.*?)^\1```", section, flags=re.M | re.S):
            blocks.append((heading, textwrap.dedent(body)))
    return blocks


def readme_main_job() -> str:
    """README's first `sh` block: the command that runs the main job on the embedded default."""
    return shell_blocks(README.read_text())[0][1]


def on_stand_in(block: str, neon: NeonLikeServer) -> str:
    """A Neon step pointed at the stand-in, with what its PgBouncer cannot do left out.

    The owner `neondb_owner:PASSWORD` becomes the stand-in's owner; the direct and
    `-pooler` hosts its two ports. `channel_binding=require` is dropped: Neon's proxy
    offers SCRAM channel binding, PgBouncer does not.
    """
    return (
        block.replace(
            f"neondb_owner:PASSWORD@{NEON_DIRECT_HOST}/",
            f"{USER}:{PASSWORD}@127.0.0.1:{neon.port}/",
        )
        .replace(f"@{NEON_POOLER_HOST}/", f"@127.0.0.1:{neon.pooler_port}/")
        .replace("&channel_binding=require", "")
    )


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


def main_job_runs(output: str) -> list[tuple[str, str, str]]:
    """(where the URL came from, the URL connected to, row security) for each `src.demo` run.

    `set -x` prints each command as `+ command`; a run's lines follow its command.
    """
    runs = []
    for chunk in re.split(r"^\++ ", output, flags=re.M):
        if not chunk.split("\n", 1)[0].rstrip().endswith("-m src.demo"):
            continue
        origin = re.search(r"DATABASE_URL (?:from (.+?): (\S+)|is not set; .* (\S+))$", chunk, re.M)
        connected = re.search(r"^connected: .* at (\S+): [\d.]+ ms$", chunk, re.M)
        security = re.search(r"^row security: (.+)$", chunk, re.M)
        assert origin, chunk
        assert connected, chunk
        assert security, chunk
        where = origin.group(1) or "default"
        assert (origin.group(2) or origin.group(3)) == connected.group(1)  # one URL, both lines
        runs.append((where, connected.group(1), security.group(1)))
    return runs


@pytest.fixture
def neon_stand_in() -> Iterator[NeonLikeServer]:
    """A Neon-shaped server whose pooler lets in the role the quickstart creates with SQL."""
    neon_section = QUICKSTART.read_text().split("\n## Neon\n", 1)[1]
    role, password = ROLE_CREATED_ON_NEON.findall(neon_section)[0]
    server = started_neon_like(pooler_logins={role: password})
    yield server
    server.stop()


def test_the_quickstart_has_blocks_for_sqlite_postgres_and_neon() -> None:
    headings = [heading for heading, _ in shell_blocks(QUICKSTART.read_text())]
    assert any(h.startswith("Local: SQLite") for h in headings)
    assert any(h.startswith("Local: PostgreSQL") for h in headings)
    assert any(h.startswith("Neon") for h in headings)
    assert "export DATABASE_URL" not in QUICKSTART.read_text()  # it outlived its section


def test_readme_then_the_quickstart_in_one_shell_run_where_each_step_says(
    tmp_path: Path, postgres_server: PostgresServer, neon_stand_in: NeonLikeServer
) -> None:
    database_existed = postgres_server.exists("pg_database", "datname", DEV_DATABASE)
    role_existed = postgres_server.exists("pg_roles", "rolname", DEV_ROLE)
    clone = fresh_copy(tmp_path / "clone")
    blocks = [
        on_stand_in(block, neon_stand_in) if heading.startswith("Neon") else block
        for heading, block in shell_blocks(QUICKSTART.read_text())
    ]
    script = "\n".join(["set -euxo pipefail", readme_main_job(), *blocks])
    # A newcomer's shell: none of the package's variables, nor libpq's (PGHOST, PGUSER, ...).
    env = {k: v for k, v in os.environ.items() if not k.startswith((*PACKAGE_VARIABLES, "PG"))}
    try:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=clone,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
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
    assert result.returncode == 0, result.stdout[-6000:]
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"{head} (head)" in result.stdout

    named = [make_url(url) for url in APP_URL_WRITTEN.findall("\n".join(blocks))]
    assert len(named) == 2, "the local and the Neon step each write the app's URL to .env"
    runs = main_job_runs(result.stdout)
    dotenv = str(clone / "backend/.env")
    sqlite_default = (("default", DEFAULT_SQLITE_URL, "not available on SQLite"),) * 3
    assert [(where, url, security.split(";")[0]) for where, url, security in runs[:3]] == list(
        sqlite_default
    )  # README once, the quickstart twice: the embedded default
    assert len(runs) == 3 + len(named)
    for (where, url, security), step_url in zip(runs[3:], named, strict=True):
        connected = make_url(url)
        assert where == dotenv, "the URL the step wrote to backend/.env, not an exported one"
        assert _identity(connected) == _identity(step_url)
        assert connected.username == DEV_ROLE
        assert security == "enforced by PostgreSQL for this role"


def _identity(url: URL) -> tuple[str | None, int | None, str | None, str | None]:
    return url.host, url.port, url.database, url.username
