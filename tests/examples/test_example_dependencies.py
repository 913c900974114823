"""The README's quickstart installs `pip install -e .`, without the test extra, and then runs the
examples: every module an example imports (directly, or through the tracejudge modules it uses)
must come from the standard library, from tracejudge itself, or from a distribution that the main
dependencies bring in. Checked against the installed metadata, since building a fresh virtualenv
would need the network."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import importlib.util
import sys
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
OWN_PACKAGES = {"mcp_server", "store"}


def imported_modules(path: Path) -> set[str]:
    """Absolute module names imported anywhere in a file, function bodies included; for
    `from package import name`, package.name when that is a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module != "__future__":
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if module_file(submodule) else node.module)
    return found


def module_file(module: str) -> Path | None:
    """The file a module is loaded from; None for a name that is no module (or a namespace)."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return None
    return Path(spec.origin).resolve() if spec is not None and spec.origin else None


def third_party_imports(paths: list[Path]) -> set[str]:
    """What `paths` import from outside the standard library and tracejudge, following the
    tracejudge modules they import."""
    seen: set[Path] = set()
    todo = list(paths)
    third_party: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imported_modules(path):
            top = module.partition(".")[0]
            if top in sys.stdlib_module_names:
                continue
            if top in OWN_PACKAGES:
                origin = module_file(module)
                assert origin is not None, f"{path.name} imports {module}, which does not exist"
                todo.append(origin)
            else:
                third_party.add(module)
    return third_party


def main_dependency_closure() -> set[str]:
    """The distributions `pip install tracejudge` installs: its requirements without extras, and theirs."""
    closure: set[str] = set()
    todo = ["tracejudge"]
    while todo:
        name = todo.pop()
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency not in closure:
                closure.add(dependency)
                todo.append(dependency)
    return closure


@cache
def files_of(distribution: str) -> frozenset[Path]:
    dist = metadata.distribution(distribution)
    return frozenset(Path(dist.locate_file(file)).resolve() for file in dist.files or [])


def distribution_of(module: str) -> str:
    """The installed distribution whose files hold `module` (a namespace package such as
    opentelemetry is shared by many, so the module's own file decides)."""
    origin = module_file(module)
    assert origin is not None, f"{module} is not installed"
    candidates = metadata.packages_distributions().get(module.partition(".")[0], [])
    owners = {canonicalize_name(name) for name in candidates if origin in files_of(name)}
    assert len(owners) == 1, f"{module} ({origin}) belongs to {owners or 'no distribution'}"
    return owners.pop()


def test_every_example_runs_on_the_main_dependencies_alone():
    scripts = sorted(EXAMPLES.rglob("*.py"))
    closure = main_dependency_closure()
    missing = {
        module: distribution
        for module in sorted(third_party_imports(scripts))
        if (distribution := distribution_of(module)) not in closure
    }
    assert not missing, (
        f"the examples import {missing}, which `pip install -e .` does not install: add them to "
        "[project] dependencies in pyproject.toml"
    )


def test_the_check_sees_a_distribution_that_only_the_test_extra_brings():
    # pytest is in the test extra only: the check must tell it from a main dependency.
    assert distribution_of("pytest") == "pytest"
    assert "pytest" not in main_dependency_closure()
    assert "opentelemetry-sdk" in main_dependency_closure()
