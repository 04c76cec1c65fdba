"""Who imports what: the clients stay apart from the server and the compiler; the contract stays light."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CLIENT_FILES = sorted((ROOT / "tools" / "client").glob("*.py")) + [ROOT / "tools" / "loadtest.py"]
CONTRACT_FILES = sorted((ROOT / "halls_contract").glob("*.py"))


def imported(path: Path, top_level_only: bool = False) -> set[str]:
    """Top-level package names `path` imports (in functions too, unless `top_level_only`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", CLIENT_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_client_module_imports_nothing_from_server_or_scenes(path):
    assert not imported(path) & {"server", "scenes"}, f"{path.name}: share it through halls_contract instead"


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: p.name)
def test_contract_module_needs_only_the_standard_library_and_pydantic_at_import(path):
    allowed = set(sys.stdlib_module_names) | {"pydantic", "halls_contract"}
    assert imported(path, top_level_only=True) <= allowed
    assert imported(path) <= allowed | {"numpy"}  # numpy only inside the functions that make numpy arrays
