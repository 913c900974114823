"""The shape of the code, as shared/DESIGN.md draws it, checked from the imports themselves: no
import cycle, the store imports nothing above it, mcp_server.server is the one composition root
(only the program's entry imports it), every module says what it holds, and no feature keeps its
service or tools under a name another feature also uses for something else.

Imports are read with ast from the source, at any depth (a function's lazy import ties two modules
as much as a top-level one), leaving out only `if TYPE_CHECKING:` blocks, which never run."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mcp_server", "store")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    _module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
}


def _runtime_nodes(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _imports(module: str) -> set[str]:
    """The modules of this tree that `module` imports when it runs."""
    tree = ast.parse(MODULES[module].read_text())
    found = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import submodule` imports the submodule; `from module import name` the module
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _cycles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read() -> None:
    # a reader that found nothing would pass every check below
    assert "mcp_server.judges.agent.judge" in GRAPH["mcp_server.judges.runner"]
    assert "mcp_server.traces.tools" in GRAPH["mcp_server.server"]
    assert len(MODULES) > 100


def test_no_import_cycle() -> None:
    assert _cycles() == []


def test_the_store_imports_nothing_above_it() -> None:
    above = {module: sorted(t for t in targets if t.startswith("mcp_server"))
             for module, targets in GRAPH.items() if module.startswith("store")}  # fmt: skip
    assert {module: targets for module, targets in above.items() if targets} == {}


def test_server_is_the_one_composition_root() -> None:
    # The program's entry starts the server it composes; no feature, and nothing shared, builds one.
    importers = sorted(module for module, targets in GRAPH.items() if "mcp_server.server" in targets)
    assert importers == ["mcp_server.cli"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_says_what_it_holds(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text())
    docstring = ast.get_docstring(tree)
    assert docstring and len(docstring) >= 20, f"{MODULES[module]} opens with no docstring"


def test_feature_modules_are_named_for_what_they_hold() -> None:
    # The complaint: tool_service.py beside service.py beside *_tools.py for one feature.
    names = [path.relative_to(ROOT).as_posix() for path in MODULES.values()]
    assert [n for n in names if n.endswith(("_tools.py", "tool_service.py")) or "/cli_" in n and "cli_format" not in n] == []
    top = sorted(path.name for path in (ROOT / "mcp_server").glob("*.py"))
    assert top == ["__init__.py", "cli.py", "demo_target.py", "server.py", "settings.py"]


def test_no_file_holds_a_merge_conflict_marker() -> None:
    # A marker line left by a merge once landed in BENCHMARKS.md; git itself does not refuse one.
    marker = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.M)
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    texts = [ROOT / name for name in tracked if name.endswith((".py", ".md", ".toml", ".js", ".css", ".html", ".txt"))]
    assert texts, "git ls-files listed nothing: run the tests from a checkout"
    marked = [str(path.relative_to(ROOT)) for path in texts if path.is_file() and marker.search(path.read_text(errors="replace"))]
    assert not marked, f"merge conflict markers in {marked}"
