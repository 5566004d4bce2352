"""One command: make a database, load it through the package, time every operation
next to the same SQL through the bare driver, check the plans, report.

    cd backend && ../.venv/bin/python -m benchmarks.operations            # SQLite in a temp file
    cd backend && ../.venv/bin/python -m benchmarks.operations --quick    # the CI size
    cd backend && ../.venv/bin/python -m benchmarks.operations \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --json ../benchmark-results/bench.json --markdown ../benchmark-results/bench.md \\
        --chart ../benchmark-results/bench.png

`--without-row-security` turns row-level security off in the run's database,
to measure what the policies cost (the package still names the user).
On PostgreSQL the URL names the server: the benchmark drops and recreates its
own database there (`--database-name`, default `todo_bench`) and drops it at
the end. Exit status is 0 whatever the timings: targets are reported, not asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from benchmarks.common.database import application_role, bench_database, disable_row_security
from benchmarks.common.measure import time_pair
from benchmarks.operations.chart import write_chart
from benchmarks.operations.checks import check_equivalence
from benchmarks.operations.dataset import load
from benchmarks.operations.plans import act_as_setting, captured, explain
from benchmarks.operations.raw import RawDriver
from benchmarks.operations.report import Result, header, markdown, to_json
from benchmarks.operations.run_async import measure_asyncio_path
from benchmarks.operations.search_index import CHOICES, create_trigram_indexes, index_note
from benchmarks.operations.workload import PAGE, Operation, operations, prepare
from src import crud
from src.config.settings import Settings
from src.database.connection import (
    build_engine,
    create_db_and_tables,
    new_session,
)


@dataclass(frozen=True, slots=True)
class Sizes:
    users: int
    todos_per_user: int
    calls: int  # per read/write operation, after warm-up
    warmup: int
    bulk_reps: int
    mixed_reps: int
    sample: int = 20  # users the reads rotate over


FULL_POSTGRES = Sizes(
    users=100, todos_per_user=10_000, calls=1000, warmup=100, bulk_reps=5, mixed_reps=3
)
FULL_SQLITE = replace(FULL_POSTGRES, users=10)
QUICK = Sizes(users=2, todos_per_user=10_000, calls=200, warmup=20, bulk_reps=2, mixed_reps=1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.operations", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="PostgreSQL server to benchmark on (default: $BENCH_DATABASE_URL, "
        "else SQLite in a temporary file)",
    )
    parser.add_argument(
        "--database-name",
        default="todo_bench",
        help="database the run creates and drops on that server",
    )
    parser.add_argument("--users", type=int, help="users to load (default 100; SQLite 10)")
    parser.add_argument("--todos-per-user", type=int, help="todos per user (default 10,000)")
    parser.add_argument("--calls", type=int, help="timed calls per operation (default 1,000)")
    parser.add_argument("--quick", action="store_true", help="CI size: 2 users, 200 calls")
    parser.add_argument(
        "--without-row-security",
        action="store_true",
        help="disable row-level security on todo in the run's database, to measure its cost",
    )
    parser.add_argument(
        "--trigram-index",
        choices=CHOICES,
        help="create these trigram indexes before loading, to measure them (the package has "
        "none: row security keeps the application role from using them)",
    )
    parser.add_argument("--json", type=Path, help="write results as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the Markdown report here")
    parser.add_argument("--chart", type=Path, help="write a PNG chart here")
    args = parser.parse_args(argv)
    if args.todos_per_user is not None and args.todos_per_user < 2 * PAGE + 1:
        parser.error(f"--todos-per-user must be at least {2 * PAGE + 1} to have a deep page")
    return args


def choose_sizes(args: argparse.Namespace, *, postgres: bool) -> Sizes:
    sizes = QUICK if args.quick else FULL_POSTGRES if postgres else FULL_SQLITE
    return replace(
        sizes,
        users=args.users or sizes.users,
        todos_per_user=args.todos_per_user or sizes.todos_per_user,
        calls=args.calls or sizes.calls,
    )


def measure(engine: Engine, raw: RawDriver, op: Operation, sizes: Sizes) -> Result:
    """Time one operation on both sides, then explain the statement the package sent."""
    if op.kind == "bulk":
        mixed = op.key == "bulk_create_mixed"
        calls, warmup = (sizes.mixed_reps, 0) if mixed else (sizes.bulk_reps, 1)
        blocks = calls
    else:
        calls, warmup, blocks = sizes.calls, sizes.warmup, 10
    gc.collect()
    with new_session(engine) as session:
        pair = time_pair(op.package(session), op.raw, calls=calls, warmup=warmup, blocks=blocks)
    raw.end()
    plan = None
    if op.kind != "bulk":
        with new_session(engine) as session:
            statements = captured(engine, lambda: op.package(session)(0))
        plan = explain(raw, statements)
    p, q = pair.package, pair.raw
    print(
        f"  {op.key:<18} p50 {p.p50_ms:9.3f} ms  p99 {p.p99_ms:9.3f} ms  "
        f"raw p50 {q.p50_ms:9.3f} ms  ratio {pair.ratio:5.2f}x",
        flush=True,
    )
    return Result(op, pair, plan)


def run(engine: Engine, owner: Engine, url: URL, sizes: Sizes, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    data = load(engine, owner, sizes.users, sizes.todos_per_user)
    load_s = time.perf_counter() - started
    raw = RawDriver(url)
    try:
        with new_session(engine) as session:
            sent = captured(engine, lambda: crud.count_todos(session, data.user_ids[0]))
        raw.act_as_setting = act_as_setting(sent)  # mirror the package's set_config, if any
        depth = min(9_000, (sizes.todos_per_user - PAGE - 1) // PAGE * PAGE)
        print(f"paging {depth:,} rows deep with list_todos to get real cursors")
        workload = prepare(engine, raw, data, sample=min(sizes.sample, sizes.users), depth=depth)
        ops = operations(workload, raw)
        check_equivalence(engine, raw, workload)
        print("measuring (package vs raw driver):")
        results = [measure(engine, raw, op, sizes) for op in ops]
    finally:
        raw.close()
    if raw.postgres:  # the asyncio path: psycopg 3 on both sides (no raw aiosqlite twin)
        results += measure_asyncio_path(url, workload, results, sizes, raw.act_as_setting)
    facts = header(
        engine, url, data, workload, load_s=load_s, calls=sizes.calls, warmup=sizes.warmup
    )
    facts.append(
        f"- the package names the user to row security (set_config of {raw.act_as_setting})"
        " once per transaction and user, so before every call here (calls alternate users);"
        " the raw twin sends the same statement"
        if raw.act_as_setting
        else "- the package sends no set_config before its operations; nor does the raw twin"
    )
    if args.trigram_index:
        facts.append(index_note(args.trigram_index))
    report = markdown(results, facts, postgres=raw.postgres)
    print("\n" + report)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(report, encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(results), indent=2) + "\n", encoding="utf-8")
    if args.chart:
        title = f"{engine.dialect.name}, {data.rows:,} todos: median per call (whisker p99)"
        write_chart(results, args.chart, title)
    for path in (args.markdown, args.json, args.chart):
        if path:
            print(f"wrote {path}")


def engine_for(url: URL) -> Engine:
    """The package's own engine for `url`, from explicit settings (never a `.env` file)."""
    return build_engine(Settings(_env_file=None, DATABASE_URL=url))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with bench_database(args.database_url, args.database_name) as owner_url:
        sizes = choose_sizes(args, postgres=owner_url.get_backend_name() == "postgresql")
        owner = engine_for(owner_url)
        try:
            create_db_and_tables(owner)
            if args.trigram_index:
                create_trigram_indexes(owner, args.trigram_index)
            if args.without_row_security:
                disable_row_security(owner_url)
            with application_role(owner_url, f"{args.database_name}_app") as url:
                engine = engine_for(url)
                try:
                    run(engine, owner, url, sizes, args)
                finally:
                    engine.dispose()
        finally:
            owner.dispose()
    return 0
