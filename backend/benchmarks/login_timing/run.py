"""How long a login takes for each kind of account: the times must not tell them apart.

    cd backend && ../.venv/bin/python -m benchmarks.login_timing            # SQLite, 30 each
    ../.venv/bin/python -m benchmarks.login_timing --logins 30 \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres

An attacker who times `POST /login` learns which emails are registered, and
which accounts still hold a bcrypt hash migrated in from another application,
if those logins take longer or shorter than the rest (bcrypt at its usual cost
12 takes ten times Argon2id's time). The run makes its own database, one
Argon2id account and one bcrypt account (`--bcrypt-cost`, default 12, the
default of bcrypt, passlib and pwdlib), and times each case on the blocking
path (`crud.authenticate`) and the asyncio path (`aio.authenticate`):

- unknown email; wrong password on the Argon2id account; wrong password on
  the bcrypt account: what an attacker can try, and must see alike;
- right password on each: the bcrypt account's hash is put back before each
  of its logins (outside the timing), so every one of them is a first login
  with its re-hash.

Cases take turns login by login, so noise hits them alike. Figures (median,
10th and 90th percentile, in ms) are printed, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable

import bcrypt
from pydantic import SecretStr
from sqlalchemy import Engine, update
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from benchmarks.common.database import application_role, bench_database, role_note
from src import crud
from src.config.settings import Settings
from src.crud import aio
from src.database.async_connection import build_async_engine, new_async_session
from src.database.connection import build_engine, create_db_and_tables, new_session
from src.models import User, UserCreate

PASSWORD = "the right password"
WRONG = SecretStr("not the password")
ARGON2_EMAIL, BCRYPT_EMAIL, UNKNOWN_EMAIL = "argon@example.com", "bcrypt@example.com", "no@x.io"
# (case, email, password); the right bcrypt password re-hashes, so its hash is put back first
CASES = [
    ("unknown email", UNKNOWN_EMAIL, WRONG),
    ("wrong password, Argon2id account", ARGON2_EMAIL, WRONG),
    ("wrong password, bcrypt account", BCRYPT_EMAIL, WRONG),
    ("right password, Argon2id account", ARGON2_EMAIL, SecretStr(PASSWORD)),
    ("right password, bcrypt account (re-hashed)", BCRYPT_EMAIL, SecretStr(PASSWORD)),
]
Times = dict[str, list[float]]


def _seed(engine: Engine, bcrypt_hash: str) -> None:
    with new_session(engine) as session:
        crud.create_user(session, UserCreate(email=ARGON2_EMAIL, password=SecretStr(PASSWORD)))
        session.add(User.model_validate({"email": BCRYPT_EMAIL, "hashed_password": bcrypt_hash}))
        session.commit()


def _put_back(engine: Engine, bcrypt_hash: str) -> None:
    """The bcrypt account as it was migrated in (a right password re-hashed it)."""
    with engine.begin() as connection:
        connection.execute(
            update(User).where(col(User.email) == BCRYPT_EMAIL).values(hashed_password=bcrypt_hash)
        )


def blocking(engine: Engine, bcrypt_hash: str, logins: int) -> Times:
    times: Times = {case: [] for case, _, _ in CASES}
    for _ in range(logins):
        for case, email, password in CASES:
            _put_back(engine, bcrypt_hash)
            with new_session(engine) as session:
                started = time.perf_counter()
                crud.authenticate(session, email, password)
                times[case].append((time.perf_counter() - started) * 1000)
    return times


async def _timed(login: Awaitable[object]) -> float:
    """Milliseconds `login` takes (a coroutine runs nothing before it is awaited)."""
    started = time.perf_counter()
    await login
    return (time.perf_counter() - started) * 1000


async def asyncio_path(engine: Engine, url: URL, bcrypt_hash: str, logins: int) -> Times:
    times: Times = {case: [] for case, _, _ in CASES}
    async_engine: AsyncEngine = build_async_engine(Settings(_env_file=None, DATABASE_URL=url))
    try:
        for _ in range(logins):
            for case, email, password in CASES:
                _put_back(engine, bcrypt_hash)
                async with new_async_session(async_engine) as session:
                    times[case].append(await _timed(aio.authenticate(session, email, password)))
    finally:
        await async_engine.dispose()
    return times


def report(path: str, times: Times) -> None:
    print(f"\n{path}: ms per login")
    print("| case | median | p10 | p90 |")
    print("|---|--:|--:|--:|")
    for case, values in times.items():
        median, deciles = statistics.median(values), statistics.quantiles(values, n=10)
        print(f"| {case} | {median:.1f} | {deciles[0]:.1f} | {deciles[-1]:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.login_timing")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--database-name", default="todo_bench_login")
    parser.add_argument("--logins", type=int, default=30, help="logins per case and path")
    parser.add_argument("--bcrypt-cost", type=int, default=12)
    args = parser.parse_args()
    bcrypt_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(args.bcrypt_cost)).decode()
    with bench_database(args.database_url, args.database_name) as owner_url:
        owner = build_engine(Settings(_env_file=None, DATABASE_URL=owner_url))
        create_db_and_tables(owner)
        owner.dispose()
        with application_role(owner_url, f"{args.database_name}_app") as url:
            engine = build_engine(Settings(_env_file=None, DATABASE_URL=url))
            try:
                _seed(engine, bcrypt_hash)
                print(f"{role_note(url)}; bcrypt cost {args.bcrypt_cost}, {args.logins} per case")
                report("blocking (crud.authenticate)", blocking(engine, bcrypt_hash, args.logins))
                async_times = asyncio.run(asyncio_path(engine, url, bcrypt_hash, args.logins))
                report("asyncio (aio.authenticate)", async_times)
            finally:
                engine.dispose()
    return 0
