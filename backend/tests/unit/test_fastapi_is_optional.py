"""FastAPI is an optional dependency: only `src.api` may need it.

A fresh interpreter where `fastapi` and `starlette` cannot be imported (as on
a machine that installed the package without its `api` group) imports every
other module of `src`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, pkgutil, sys
sys.modules["fastapi"] = None  # `import fastapi` now raises ImportError, as if not installed
sys.modules["starlette"] = None
import src

def modules(package):
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.name == "src.api":
            continue
        module = importlib.import_module(info.name)
        yield info.name
        if info.ispkg:
            yield from modules(module)

imported = list(modules(src))
print(len(imported), "modules imported")
try:
    import src.api
except ImportError as exc:
    print("src.api:", exc)
"""


def test_every_module_but_src_api_imports_without_fastapi() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BACKEND, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    count = int(result.stdout.split()[0])
    assert count >= 25  # the crud, database, models, config and security modules
    assert "src.api: import of fastapi halted" in result.stdout  # and src.api does need it
