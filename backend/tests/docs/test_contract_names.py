"""The operations contract covers every public name it says it covers, and no name that is gone."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

import src.crud
import src.database.connection

CONTRACT = (
    Path(__file__).resolve().parents[3] / "specs/001-db-schema/contracts/database-operations.md"
)


@pytest.mark.parametrize("module", [src.crud, src.database.connection], ids=lambda m: m.__name__)
def test_the_contract_names_every_public_name_of_the_modules_it_covers(module: ModuleType) -> None:
    text = CONTRACT.read_text()
    assert f"`{module.__name__}`" in text  # the contract says it covers this module
    names: list[str] = module.__all__
    missing = [name for name in names if not re.search(rf"\b{name}\b", text)]
    assert missing == []
