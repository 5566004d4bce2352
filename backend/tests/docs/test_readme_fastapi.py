"""README's FastAPI example is the example service's own code, so it cannot drift from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.api.conftest import TOKEN_SECRET

REPOSITORY = Path(__file__).resolve().parents[3]
EXAMPLE = REPOSITORY / "backend/examples/sync_app.py"


def marked_region(source: str) -> str:
    """The lines between `# README: begin` and `# README: end`, without trailing blank lines."""
    match = re.search(r"^# README: begin\n(.*?)^# README: end$", source, re.MULTILINE | re.DOTALL)
    assert match, "the example has no README region"
    return match.group(1).rstrip() + "\n"


def readme_fastapi_block(readme: str) -> str:
    section = readme.split("\n## Using it from FastAPI\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, "README's FastAPI section should hold one python block"
    return str(blocks[0])


def test_readme_fastapi_snippet_is_the_marked_region_of_the_example() -> None:
    region = marked_region(EXAMPLE.read_text())
    assert readme_fastapi_block((REPOSITORY / "README.md").read_text()) == region


def test_readme_import_snippet_is_the_marked_region_of_the_import_example() -> None:
    example = REPOSITORY / "backend/examples/import_rows.py"
    readme = (REPOSITORY / "README.md").read_text()
    section = readme.split("\n## Loading rows directly (an import, fixtures)\n", 1)[1]
    blocks = re.findall(r"^```python\n(.*?)^```$", section.split("\n## ", 1)[0], re.M | re.S)
    assert blocks == [marked_region(example.read_text())]


ROUTE_ROW = re.compile(
    r"^\| `(GET|POST|PATCH|DELETE) (\S+)`(?: \(Bearer\))? \|\s*(.*?)\s*\| (\d{3})\b", re.M
)


def test_readme_route_table_is_the_example_services_openapi_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every operation once, its body's fields or query parameters, its success status."""
    monkeypatch.setenv("EXAMPLE_TOKEN_SECRET", TOKEN_SECRET)
    from examples.sync_app import app  # built with the key set above

    spec = app.openapi()
    rows = ROUTE_ROW.findall((REPOSITORY / "README.md").read_text())
    operations = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert sorted((method, path) for method, path, _, _ in rows) == sorted(operations)
    for method, path, inputs, status in rows:
        operation = spec["paths"][path][method.lower()]
        named = set(re.findall(r"`(\w+)`", inputs))
        if inputs.startswith("query:"):
            assert named == {p["name"] for p in operation["parameters"] if p["in"] == "query"}
        elif "requestBody" in operation:
            reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            schema = spec["components"]["schemas"][reference.rsplit("/", 1)[1]]
            assert set(schema.get("required", [])) <= named <= set(schema["properties"]), path
        else:
            assert not named, path
        assert min(code for code in operation["responses"] if code.startswith("2")) == status
