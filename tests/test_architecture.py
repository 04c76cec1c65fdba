"""The code's shape: no import cycles, no first-party module found by probing, clients apart from the server.

The import graph is read from the source (every `import`, also those inside
functions), so a cycle hidden behind a late import is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("halls_contract", "scenes", "server", "tools")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> set[str]:
    """First-party modules `module` imports (the module itself, not its package, where it can tell)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: len(module.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in names if name in MODULES and name != module}


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_first_party_modules_import_each_other_without_a_cycle():
    assert _cycle() is None, "import cycle: " + " -> ".join(_cycle() or [])


def test_the_import_graph_sees_known_edges():
    # the checker itself: if it found no edges, "no cycle" would prove nothing
    assert "server.hub.service" in GRAPH["server.app"]
    assert "server.learning.learners" in GRAPH["server.learning.auth"]
    assert sum(len(targets) for targets in GRAPH.values()) > 100


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_finds_first_party_code_by_probing(module):
    problems = []
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name == "hasattr":
                problems.append(f"line {node.lineno}: hasattr(...)")
            if name.endswith(("find_spec", "import_module", "__import__")):
                target = node.args[0] if node.args else None
                literal = target.value if isinstance(target, ast.Constant) else None
                if not isinstance(literal, str) or literal.split(".")[0] in PACKAGES:
                    problems.append(f"line {node.lineno}: {name}({ast.unparse(target) if target else ''})")
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "getattr" and node.args:
            if "config" in ast.unparse(node.args[0]).lower():
                problems.append(f"line {node.lineno}: getattr on a config object")
    assert not problems, f"{module}: " + "; ".join(problems)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("tools.client") or m == "tools.loadtest"))
def test_clients_import_nothing_from_the_server_or_the_compiler(module):
    reached, todo = set(), [module]
    while todo:  # everything the client loads, also through other first-party modules
        for target in GRAPH[todo.pop()] - reached:
            reached.add(target)
            todo.append(target)
    bad = sorted(target for target in reached if target.split(".")[0] in ("server", "scenes"))
    assert not bad, f"{module} loads {', '.join(bad)}: share it through halls_contract instead"
