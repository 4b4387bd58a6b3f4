"""The wire contract's validation helpers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runlog import conventions as c


@pytest.mark.parametrize("run_id", ["a", "run_1.2-x", "A" * 64])
def test_valid_run_ids(run_id: str) -> None:
    assert c.is_valid_run_id(run_id)


@pytest.mark.parametrize("run_id", ["", "A" * 65, "a b", "a/b", "ü", None, 5])
def test_invalid_run_ids(run_id: object) -> None:
    assert not c.is_valid_run_id(run_id)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("", "empty"), ("   ", "empty"), ("x" * 256, "limit is 255"), (3, "string"), ("a\x00", "NUL")],
)
def test_check_name_says_what_is_wrong(name: object, fragment: str) -> None:
    reason = c.check_name("metric name", name)
    assert reason is not None
    assert fragment in reason


@pytest.mark.parametrize(
    "path", ["model.pkl", "outputs/model.pkl", "a/b/c.txt", "a..b", "C_drive:x"]
)
def test_file_paths_accepted(path: str) -> None:
    assert c.check_file_path(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "",
        "../x",
        "a/../b",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "a\\b",
        "C:/x",
        "C:",
        "a\x00b",
        "x" * 1025,
        "outputs/",
    ],
)
def test_file_paths_refused(path: str) -> None:
    assert c.check_file_path(path) is not None


_CONTRACT_SPELLINGS = re.compile(
    r"""["'](RUNLOG_[A-Z_]+|X-Runlog-[A-Za-z-]+|[\w.+/-]*vnd\.runlog[\w.+-]*)["']"""
)
#: The one module that may spell a contract name itself: it runs before runlog is importable.
_BOOTSTRAP = Path(c.__file__).parent / "instrumentation" / "_bootstrap" / "sitecustomize.py"


def _sources() -> list[Path]:
    roots = [Path(c.__file__).parent, Path(c.__file__).parent.parent / "collectors"]
    return [p for root in roots for p in sorted(root.rglob("*.py"))]


def test_names_that_cross_a_process_are_spelled_only_in_conventions() -> None:
    """Environment variables, headers and media types live in `runlog.conventions`; both
    sides import them (the binary vector's type and headers were spelled in both packages)."""
    spelled = {
        f"{path.name}: {found.group(1)}"
        for path in _sources()
        if path not in (Path(c.__file__), _BOOTSTRAP)
        for found in _CONTRACT_SPELLINGS.finditer(path.read_text())
    }

    assert set() == spelled


def test_the_bootstrap_spells_the_client_path_as_conventions_does() -> None:
    assert f'"{c.ENV_CLIENT_PATH}"' in _BOOTSTRAP.read_text()
