"""Service-level benchmark: the example FastAPI service against a peer and the raw driver.

    cd backend && ../.venv/bin/python -m benchmarks.service            # 50 users, 2 rounds
    cd backend && ../.venv/bin/python -m benchmarks.service --quick    # the CI size
    cd backend && ../.venv/bin/python -m benchmarks.service \\
        --json ../benchmark-results/service.json \\
        --markdown ../benchmark-results/service.md --chart ../benchmark-results/service.png

It starts the tests' Neon-like stand-in (TLS PostgreSQL with SCRAM, TLS
PgBouncer in transaction mode), migrates and seeds two databases alike
(`benchmarks.service.stack`), and then, round after round, runs each service
under uvicorn (2 workers, default pool settings) in the order of `ROUND`: a
warm-up of the same load, then the measured load (`benchmarks.service.load`)
with CPU and pooler logins read before and after. The variants are the example
service (`package-sync`, `package-async`), the raw-driver limit (`raw`:
`benchmarks.service.raw`, the same API and SQL on bare psycopg 3, on the
package's database with row security on, as the application role) and the
peer (`benchmarks.service.peer`); runs alternate, so drift in the machine's
speed falls on every variant alike.
Every process it starts (cluster, pooler, uvicorn) is stopped on every way
out. Figures are printed and written, never judged: the exit status is 1 only
if a service answered wrongly.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.service.load import LoadResult, run_load
from benchmarks.service.report import Run, markdown, summarize, to_json, write_chart
from benchmarks.service.stack import (
    PACKAGE_DATABASE,
    PEER_DATABASE,
    Snapshot,
    prepare_databases,
    service_url,
)
from tests.standins.neon_local import NeonLikeServer
from tests.standins.uvicorn_server import UvicornServer

# variant: (uvicorn app, database)
VARIANTS = {
    "package-sync": ("examples.sync_app:app", PACKAGE_DATABASE),
    "peer": ("benchmarks.service.peer:app", PEER_DATABASE),
    "package-async": ("examples.async_app:app", PACKAGE_DATABASE),
    "raw": ("benchmarks.service.raw:app", PACKAGE_DATABASE),
}
ROUND = ("package-sync", "raw", "peer", "package-async", "raw", "peer")


@dataclass(frozen=True, slots=True)
class Sizes:
    users: int
    todos_per_user: int
    rounds: int
    warmup_s: float
    duration_s: float
    max_cycles: int  # per user and run: the bound in count next to the bound in time


FULL = Sizes(users=50, todos_per_user=1000, rounds=2, warmup_s=5, duration_s=25, max_cycles=2000)
# Six runs a round (four before the raw driver): 2.5 s each keeps CI under a minute.
QUICK = Sizes(users=8, todos_per_user=100, rounds=1, warmup_s=1, duration_s=2.5, max_cycles=200)


def _service_environment(url: str, secret: str) -> dict[str, str]:
    """This process's environment without any database setting: the services use defaults."""
    keep = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DB_", "DATABASE_")) and name != "APP_ENV"
    }
    return {**keep, "DATABASE_URL": url, "EXAMPLE_TOKEN_SECRET": secret}


def measure(server: NeonLikeServer, variant: str, sizes: Sizes, secret: str) -> Run:
    app, database = VARIANTS[variant]
    environment = _service_environment(service_url(server, database), secret)
    service = UvicornServer(app, environment, launcher="examples.serve")
    service.start()
    try:
        group = service.process_group
        assert group is not None
        run_load(
            service.base_url,
            secret.encode(),
            users=sizes.users,
            duration_s=sizes.warmup_s,
            max_cycles=sizes.max_cycles,
        )
        before = Snapshot.take(server, group)
        load: LoadResult = run_load(
            service.base_url,
            secret.encode(),
            users=sizes.users,
            duration_s=sizes.duration_s,
            max_cycles=sizes.max_cycles,
        )
        cost = Snapshot.take(server, group) - before
    finally:
        service.stop()
    if load.errors:
        print(f"  {variant}: {len(load.errors)} errors, first: {load.errors[0]}", file=sys.stderr)
        print(service.log[-1500:], file=sys.stderr)
    return Run(variant, load, cost)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.service")
    parser.add_argument("--quick", action="store_true", help="the CI size: seconds, not minutes")
    parser.add_argument("--users", type=int, help="concurrent users (default 50, quick 8)")
    parser.add_argument("--rounds", type=int, help="rounds of the variant order (default 2)")
    parser.add_argument("--duration", type=float, help="measured seconds per run")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--chart", type=Path)
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    sizes = Sizes(
        users=args.users or sizes.users,
        todos_per_user=sizes.todos_per_user,
        rounds=args.rounds or sizes.rounds,
        warmup_s=sizes.warmup_s,
        duration_s=args.duration or sizes.duration_s,
        max_cycles=sizes.max_cycles,
    )
    secret = secrets.token_urlsafe(32)
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the `finally` blocks stop everything.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runs: list[Run] = []
    started = time.monotonic()
    server = NeonLikeServer()
    try:
        server.start()
        prepare_databases(server, sizes.users, sizes.todos_per_user)
        for round_number in range(sizes.rounds):
            for variant in ROUND:
                runs.append(measure(server, variant, sizes, secret))
                print(f"round {round_number + 1}: {runs[-1].line()}", flush=True)
    finally:
        server.stop()
    summaries = summarize(runs)
    command = "python -m benchmarks.service" + (" --quick" if args.quick else "")
    text = markdown(summaries, sizes_note(sizes), command, time.monotonic() - started)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(summaries, runs), indent=2) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text + "\n")
    if args.chart:
        write_chart(summaries, args.chart)
    return 1 if any(run.load.errors for run in runs) else 0


def sizes_note(sizes: Sizes) -> str:
    return (
        f"{sizes.users} concurrent users (one account each, {sizes.todos_per_user:,} todos each), "
        f"{sizes.rounds} round(s) of {' → '.join(ROUND)}; per run {sizes.warmup_s:g} s warm-up, "
        f"then {sizes.duration_s:g} s or {sizes.max_cycles:,} cycles per user"
    )
