"""Layering: the collector uses the client's public modules only, and the client's modules
import each other in one direction.

`runlog.conventions`, `runlog.filters`, `runlog.spool` and `runlog.snapshot` are the
contracts the two packages share; a private module of the client (``runlog._x``) is the
client's to change.
"""

from __future__ import annotations

import ast
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest
from source_imports import typing_only

import collectors
import runlog

#: Private client modules the collector still imports, each with why (shrink, never grow).
ALLOWED: dict[str, str] = {}


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _private_imports(importer: Any, imported: str) -> set[str]:
    """``path: module`` for each private module of package *imported* (a ``_`` part after
    its name) that a module of package *importer* imports."""
    root = Path(importer.__file__).parent
    return {
        f"{path.relative_to(root.parent)}: {name}"
        for path in sorted(root.rglob("*.py"))
        for name in _imported_modules(path)
        if name.startswith(f"{imported}.")
        and any(part.startswith("_") for part in name.split(".")[1:])
    }


def test_the_collector_imports_no_private_client_module() -> None:
    private = _private_imports(collectors, "runlog")

    assert set() == {entry for entry in private if entry.split(": ")[1] not in ALLOWED}


def test_the_client_imports_no_private_collector_module() -> None:
    """The CLI's collector commands use `collectors.cli_args`, `collectors.store` … only;
    the compute targets start ``python -m runlog.launch`` (they named ``runlog._launch``)."""
    root = Path(runlog.__file__).parent
    private = _private_imports(runlog, "collectors")
    started = {
        f"{path.relative_to(root.parent)}"
        for path in sorted(Path(collectors.__file__).parent.rglob("*.py"))
        if '"runlog._' in path.read_text()
    }

    assert (set(), set()) == (private, started)


def test_no_collector_subpackage_imports_another_ones_private_module() -> None:
    """``collectors.compute`` reads the store through `collectors.store.protocols`, not
    through ``collectors.store._apply_compute`` (which it did for the queue states)."""
    root = Path(collectors.__file__).parent
    crossing = set()
    for path in sorted(root.rglob("*.py")):
        own = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
        for name in _imported_modules(path):
            parts = name.split(".")
            private = [i for i, part in enumerate(parts) if part.startswith("_")]
            if parts[0] == "collectors" and private:
                package = ".".join(parts[: private[0]])
                if package != own and not own.startswith(package + "."):
                    crossing.add(f"{path.relative_to(root.parent)}: {name}")

    assert set() == crossing


def test_the_collectors_import_name_is_this_distributions_own() -> None:
    """``collectors`` is a generic top-level name: the one imported must be runlog-ml's,
    installed next to `runlog`, and no other installed distribution may ship it."""
    assert Path(runlog.__file__).parent.parent == Path(collectors.__file__).parent.parent
    assert {"runlog-ml"} == set(packages_distributions()["collectors"])


def _runtime_imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The modules of *known* that *module* (at *path*) imports when it runs: at module
    level or inside a function, but not under ``if TYPE_CHECKING:`` (which never runs)."""
    tree = ast.parse(path.read_text(), str(path))
    skipped = typing_only(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            # ``from runlog import conventions`` imports the module runlog.conventions (its
            # package's __init__ runs first, as for every submodule: not counted as a loop)
            names = [f"{base}.{alias.name}" for alias in node.names]
            names = [n for n in names if n in known] or [base]
        else:
            continue
        found.update(name for name in names if name in known and name != module)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other in a loop (Tarjan's strongly connected
    components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", [runlog, collectors], ids=["runlog", "collectors"])
def test_the_modules_of_a_package_import_each_other_in_one_direction(package: Any) -> None:
    """No import loop among a package's modules, counting the imports made inside functions
    (the client's old core, run <-> experiment <-> workspace <-> _lifecycle <->
    system_metrics, was one loop held together by ~50 of those; the store's op handlers and
    its transaction, and four pairs of MLflow modules, were others)."""
    root = Path(package.__file__).parent
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    known = set(modules)
    graph = {name: _runtime_imports(path, name, known) for name, path in modules.items()}

    assert [] == _cycles(graph)
