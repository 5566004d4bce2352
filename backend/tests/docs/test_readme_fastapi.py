"""README's FastAPI example is the example service's own code, so it cannot drift from it."""

from __future__ import annotations

import re
from pathlib import Path

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
