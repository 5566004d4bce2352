"""Schemathesis against an example service under uvicorn: every check, every phase, on SQLite.

The service's OpenAPI schema is its contract; schemathesis reads it, sends
what it allows and what it forbids (examples, coverage, fuzzing, stateful
sequences) and checks every answer against it (statuses, bodies, headers,
`Allow`, authentication, resources that must exist or be gone). It runs as
its own command line, as a CI job would run it, against a real uvicorn on a
freshly migrated SQLite file, with a bearer token from the service's own
`POST /users` and `POST /login`. `schemathesis.toml` beside this file holds
its settings and the reason for the one status it accepts on one operation.

`test_openapi_contract.py` runs it at a few examples per operation; CI runs it
larger, printing schemathesis's report and failing on any failure:

    cd backend && ../.venv/bin/python -m tests.api.openapi_contract --max-examples 20
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx2

from src.database.connection import build_engine
from src.database.migrations import upgrade_to_head
from tests.api.conftest import PASSWORD, TOKEN_SECRET
from tests.conftest import settings_for
from tests.standins.uvicorn_server import UvicornServer

SERVICES = ("sync_app", "async_app")
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20  # fixed: a run is reproducible, and a failure is the same failure on every machine
PHASES = "examples,coverage,fuzzing,stateful"
ACCOUNT = "contract@example.com"
RUN_TIMEOUT_S = 900


@dataclass(frozen=True)
class ContractRun:
    service: str
    returncode: int
    output: str  # schemathesis's own report: every failure with a curl line to reproduce it


def migrated_sqlite(path: Path) -> None:
    """A SQLite database at `path`, migrated to head as a deployment would be."""
    engine = build_engine(settings_for(f"sqlite:///{path}"))
    upgrade_to_head(engine)
    engine.dispose()


def bearer_token(base_url: str) -> str:
    """A token of a new account, from the service's own registration and login."""
    with httpx2.Client(base_url=base_url, timeout=30) as http:
        account = {"email": ACCOUNT, "password": PASSWORD}
        http.post("/users", json=account).raise_for_status()
        answer = http.post("/login", json=account)
        answer.raise_for_status()
        return str(answer.json()["access_token"])


def run_contract(service: str, database: Path, max_examples: int, seed: int = SEED) -> ContractRun:
    """Schemathesis against `examples.<service>` serving the (migrated) SQLite file `database`."""
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "EXAMPLE_TOKEN_SECRET": TOKEN_SECRET,
    }
    server = UvicornServer(f"examples.{service}:app", environment, workers=1)
    server.start()
    try:
        token = bearer_token(server.base_url)
        command = [
            *(sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()"),
            *("--config-file", str(CONFIG), "--no-color", "run", f"{server.base_url}/openapi.json"),
            *("--checks", "all", "--phases", PHASES),
            *("--max-examples", str(max_examples), "--seed", str(seed)),
            *("--header", f"Authorization: Bearer {token}"),
        ]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
        )
    finally:
        server.stop()
    output = completed.stdout + completed.stderr
    return ContractRun(service, completed.returncode, output)


def run_all(
    max_examples: int, seed: int = SEED, services: Sequence[str] = SERVICES
) -> list[ContractRun]:
    """`run_contract` for each service side by side, each on a database of its own (migrated
    one after the other: Alembic's context is global to the process)."""
    with tempfile.TemporaryDirectory(prefix="contract-") as directory:
        databases = [Path(directory) / f"{service}.db" for service in services]
        for database in databases:
            migrated_sqlite(database)
        with ThreadPoolExecutor(max_workers=len(services)) as pool:
            runs = pool.map(
                run_contract,
                services,
                databases,
                [max_examples] * len(services),
                [seed] * len(services),
            )
            return list(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("services", nargs="*", help=f"of {SERVICES} (default: both)")
    arguments = parser.parse_args()
    if unknown := set(arguments.services) - set(SERVICES):
        parser.error(f"no example service {sorted(unknown)}: choose from {SERVICES}")
    runs = run_all(arguments.max_examples, arguments.seed, arguments.services or SERVICES)
    for run in runs:
        print(f"===== schemathesis against examples.{run.service} =====\n{run.output}")
    failed = [run.service for run in runs if run.returncode != 0]
    print(f"contract: {len(runs) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
