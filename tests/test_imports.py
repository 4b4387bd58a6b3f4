"""Layering: the collector uses the client's public modules only.

`runlog.conventions`, `runlog.filters` and `runlog.snapshot` are the contracts the two
packages share; a private module of the client (``runlog._x``) is the client's to change.
"""

from __future__ import annotations

import ast
from importlib.metadata import packages_distributions
from pathlib import Path

import collectors

#: Private client modules the collector still imports, each with why (shrink, never grow).
ALLOWED = {"runlog._spool": "the spool's format becomes a documented module on its own branch"}


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_collector_imports_no_private_client_module() -> None:
    root = Path(collectors.__file__).parent
    private = {
        f"{path.relative_to(root.parent)}: {name}"
        for path in sorted(root.rglob("*.py"))
        for name in _imported_modules(path)
        if name.startswith("runlog.")
        and any(part.startswith("_") for part in name.split(".")[1:])
        and name not in ALLOWED
    }

    assert set() == private


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
    import runlog

    assert Path(runlog.__file__).parent.parent == Path(collectors.__file__).parent.parent
    assert {"runlog-ml"} == set(packages_distributions()["collectors"])
