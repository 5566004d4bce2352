"""Run the PostgreSQL tests against a throwaway Neon branch, then delete it, pass or fail.

    cd backend && NEON_API_KEY=... NEON_PROJECT_ID=... ../.venv/bin/python -m tests.neon_branch_run

Creates a branch (unique name, expires in two hours) with Neon's API, then runs
pytest twice: with TEST_DATABASE_URL set to the branch's direct URI and then
to its `-pooler` URI. Each run covers the blocking and the asyncio path (the
integration tests use both engines on the "postgresql" backend) and
`tests/integration/test_neon.py`. Extra arguments go to pytest. Exits with
pytest's worst status; without the variables it says why and exits 0.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.neon_api import NeonApi, throwaway_branch


def main(pytest_args: list[str]) -> int:
    api = NeonApi.from_environment()
    if api is None:
        print("skipped: set NEON_API_KEY and NEON_PROJECT_ID to run the suite on a Neon branch")
        return 0
    status = 0
    with throwaway_branch(api) as branch:
        print(f"branch {branch.name} ({branch.id}), deleted when the runs end")
        for label, uri in (("direct", branch.direct_uri), ("pooler", branch.pooled_uri)):
            env = {
                **os.environ,
                "TEST_DATABASE_URL": uri,
                "NEON_BRANCH_DIRECT_URI": branch.direct_uri,
                "NEON_BRANCH_POOLED_URI": branch.pooled_uri,
            }
            print(f"--- {label} endpoint")
            command = [sys.executable, "-m", "pytest", "tests/integration", "-q", *pytest_args]
            status = max(status, subprocess.run(command, env=env, check=False).returncode)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
