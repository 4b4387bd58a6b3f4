"""The wire contract's validation helpers."""

from __future__ import annotations

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
