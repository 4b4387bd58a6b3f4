"""The distribution's name, its extras, and the message a missing optional dependency gives."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from source_imports import typing_only

from runlog.extras import DISTRIBUTION, PROVIDERS, missing_message, provider

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared(extra: str | None) -> set[str]:
    """Normalised distribution names that *extra* (None: the light client) declares."""
    project = PYPROJECT["project"]
    lines = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return {Requirement(line).name.lower().replace("_", "-") for line in lines}


def test_distribution_is_not_the_unrelated_runlog_on_pypi() -> None:
    assert "runlog-ml" == PYPROJECT["project"]["name"] == DISTRIBUTION


def test_self_referencing_extras_use_the_distribution_name() -> None:
    for extra, lines in PYPROJECT["project"]["optional-dependencies"].items():
        for line in lines:
            if line.startswith("runlog"):
                assert Requirement(line).name == DISTRIBUTION, (extra, line)


def test_license_is_an_spdx_expression() -> None:
    # A table ({text = ...}) makes setuptools print its deprecation box on every install.
    assert "Apache-2.0" == PYPROJECT["project"]["license"]


def test_missing_collector_library_names_the_distribution_and_the_extra() -> None:
    exc = ModuleNotFoundError("No module named 'google.rpc'", name="google.rpc")
    message = missing_message("the collector", exc)
    assert (
        "the collector needs googleapis-common-protos (module 'google.rpc' is missing): "
        "pip install 'googleapis-common-protos' - it is part of runlog-ml's [collector] extra"
    ) == message


def test_unknown_module_is_named_as_it_is() -> None:
    exc = ModuleNotFoundError("No module named 'nope'", name="nope")
    assert "needs the module 'nope'" in missing_message("x", exc)


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("google.rpc.status_pb2", ("googleapis-common-protos", "collector")),
        ("opentelemetry.sdk.trace", ("opentelemetry-sdk", "otel")),
        ("sklearn.linear_model", ("scikit-learn", "sklearn")),
        ("opentelemetry.proto", None),  # the light client's own dependency
    ],
)
def test_provider_of_dotted_names(module: str, expected: tuple[str, str] | None) -> None:
    assert expected == provider(module)


def test_every_provider_is_declared_by_its_extra() -> None:
    for module, (dist, extra) in PROVIDERS.items():
        assert Requirement(dist).name.lower() in _declared(extra), (module, dist, extra)


def _third_party_imports(path: Path) -> set[str]:
    """Third-party modules *path* imports when it runs (`typing_only` ones left out)."""
    tree = ast.parse(path.read_text())
    skipped = typing_only(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module in ("google", "opentelemetry"):  # namespace packages
                names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in ("runlog", "collectors"):
                found.add(name)
    return found


# Imported where present, never required: pynvml (GPU metrics when NVIDIA's library is there),
# and the light client's own dependencies, which every extra includes.
_LIGHT_MODULES = {
    "opentelemetry.proto": "opentelemetry-proto",
    "google.protobuf": "protobuf",
    "httpx": "httpx",
    "click": "click",
    "rich": "rich",
    "wrapt": "wrapt",
    "pathspec": "pathspec",
}
_OPTIONAL = {"pynvml"}


def test_every_runtime_import_is_declared() -> None:
    """Each third-party import of the package maps to the light client or to an extra that
    declares its distribution: an undeclared import (googleapis-common-protos once) fails."""
    light = _declared(None)
    undeclared = []
    for package in ("runlog", "collectors"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in _third_party_imports(path):
                if name.split(".")[0] in _OPTIONAL:
                    continue
                light_dist = next(
                    (d for m, d in _LIGHT_MODULES.items() if (name + ".").startswith(m + ".")),
                    None,
                )
                if light_dist is not None:
                    assert light_dist in light
                    continue
                if provider(name) is None:
                    undeclared.append(f"{path.relative_to(ROOT)}: {name}")
    assert [] == undeclared
