#!/usr/bin/env bash
# Prove the package installs as a package: in a fresh virtual environment,
# `pip install -e backend`, then a wheel of it, and each time, from a directory
# outside the repository, import `src.crud` and migrate a new SQLite file to head.
# Run by .ci/run; people can run it too (it leaves nothing behind).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
# setuptools writes build/ and *.egg-info/ beside pyproject.toml: remove those this run made.
made=()
for leftover in "$repo/backend/build" "$repo/backend/todo_data_layer.egg-info"; do
  [ -e "$leftover" ] || made+=("$leftover")
done
trap 'rm -rf "$work" "${made[@]}"' EXIT

check_from_outside() {
  (cd "$work" && "$work/venv/bin/python" - "$1" <<'PY'
import sys
from pathlib import Path

import src
import src.crud  # noqa: F401
from sqlalchemy import inspect
from src.config.settings import Settings
from src.database.connection import build_engine
from src.database.migrations import MIGRATIONS_DIR, upgrade_to_head

expected = sys.argv[1]
where = Path(src.__file__).resolve().parent
assert expected in str(where), f"src imported from {where}, expected {expected}"
assert (where / "py.typed").exists(), "py.typed is missing"
engine = build_engine(Settings(_env_file=None, DATABASE_URL="sqlite:///migrated.db"))
upgrade_to_head(engine)
tables = sorted(inspect(engine).get_table_names())
engine.dispose()
assert tables == ["alembic_version", "todo", "user"], tables
print(f"ok: src from {where}, migrations from {MIGRATIONS_DIR}, tables {tables}")
PY
  )
  rm -f "$work/migrated.db"*
}

# pip here prints a warning for each local index folder the machine lacks; keep its errors.
quiet() { "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }

python3 -m venv "$work/venv"
echo "+ pip install -e backend (fresh venv)"
quiet "$work/venv/bin/pip" install -q -e "$repo/backend"
check_from_outside "$repo/backend/src"

echo "+ pip wheel backend; pip install the wheel"
quiet "$work/venv/bin/pip" wheel -q --no-deps "$repo/backend" -w "$work/dist"
quiet "$work/venv/bin/pip" install -q --force-reinstall --no-deps "$work"/dist/*.whl
check_from_outside "site-packages/src"
