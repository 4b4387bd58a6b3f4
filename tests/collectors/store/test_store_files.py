"""File paths and the local file store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from collectors.store import FileTooLargeError, InvalidPathError, LocalFileStore
from collectors.store.files import check_path


@pytest.mark.parametrize(
    "path",
    [
        "a.txt",
        "outputs/model.pkl",
        "a/b/c/d.bin",
        "ünï/çødé.txt",
        "..hidden",
        "a..b",
        ".env",
        "x" * 255,
        "/".join(["abcd"] * 204),
    ],
)
def test_valid_paths(path: str) -> None:
    assert path == check_path(path)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "it is empty"),
        ("..", "'..' segment"),
        ("../x", "'..' segment"),
        ("a/../../x", "'..' segment"),
        ("a/./b", "'.' or '..' segment ('.')"),
        (".", "'.' or '..' segment"),
        ("/etc/passwd", "it is absolute"),
        ("a\\b", "backslash"),
        ("..\\x", "backslash"),
        ("a//b", "empty, '.' or '..' segment ('')"),
        ("a/", "empty, '.' or '..' segment ('')"),
        ("a\x00b", "NUL"),
        ("C:/x", "drive letter"),
        ("c:x", "drive letter"),
        ("x" * 1025, "1025 characters long; the limit is 1024"),
        ("x" * 256, "longer than 255 bytes"),
    ],
)
def test_invalid_paths(path: str, message: str) -> None:
    with pytest.raises(InvalidPathError) as caught:
        check_path(path)

    assert message in str(caught.value)


def test_non_string_path_is_refused() -> None:
    with pytest.raises(InvalidPathError, match="must be a string"):
        check_path(b"a")


@pytest.mark.parametrize("run_id", ["..", ".", "a/b", "", "x" * 65, "a b"])
def test_invalid_run_ids_are_refused(tmp_path: Path, run_id: str) -> None:
    files = LocalFileStore(tmp_path)

    with pytest.raises(InvalidPathError, match="invalid run id"):
        files.path_for(run_id, "a.txt")


def test_path_for_stays_under_the_run(tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path / "root")

    assert tmp_path / "root" / "r1" / "a" / "b.txt" == files.path_for("r1", "a/b.txt")


def test_symlink_out_of_the_run_is_refused(tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path / "root")
    (tmp_path / "root" / "r1").mkdir()
    (tmp_path / "root" / "r1" / "link").symlink_to(tmp_path)

    with pytest.raises(InvalidPathError, match="outside the run"):
        files.path_for("r1", "link/secret")


def test_write_commit_read(tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path)
    data = [b"hello ", b"world", b""]

    with files.open_writer("r1", "out/greeting.txt") as writer:
        for chunk in data:
            writer.write(chunk)
        size, sha = writer.commit()
    with files.open_read("r1", "out/greeting.txt") as stream:
        stored = stream.read()

    assert (11, hashlib.sha256(b"hello world").hexdigest()) == (size, sha)
    assert stored == b"hello world"
    assert sorted(p.name for p in (tmp_path / "r1" / "out").iterdir()) == ["greeting.txt"]


def test_abort_keeps_the_previous_version(tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path)
    first = files.open_writer("r1", "a.txt")
    first.write(b"v1")
    first.commit()

    with files.open_writer("r1", "a.txt") as second:
        second.write(b"v2 partial")  # leaves the block without commit: aborted

    assert (tmp_path / "r1" / "a.txt").read_bytes() == b"v1"
    assert [p.name for p in (tmp_path / "r1").iterdir()] == ["a.txt"]


def test_too_large_upload_is_dropped(tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path, max_file_bytes=4)
    writer = files.open_writer("r1", "big.bin")
    writer.write(b"1234")

    with pytest.raises(FileTooLargeError, match="limit of 4 bytes"):
        writer.write(b"5")

    assert list((tmp_path / "r1").iterdir()) == []


def test_per_upload_limit_overrides_default(tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path, max_file_bytes=1)
    writer = files.open_writer("r1", "a.bin", max_size=10)
    writer.write(b"0123456789")

    assert (10, hashlib.sha256(b"0123456789").hexdigest()) == writer.commit()


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"has no file 'nope\.txt'"):
        LocalFileStore(tmp_path).open_read("r1", "nope.txt")


def test_path_clashing_with_file_or_folder(tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path)
    writer = files.open_writer("r1", "a/b.txt")
    writer.write(b"x")
    writer.commit()

    with pytest.raises(InvalidPathError, match="is a folder"):
        files.open_writer("r1", "a")
    with pytest.raises(InvalidPathError, match="below a file"):
        files.open_writer("r1", "a/b.txt/c")


def test_writer_cannot_be_used_after_commit(tmp_path: Path) -> None:
    writer = LocalFileStore(tmp_path).open_writer("r1", "a.txt")
    writer.commit()

    with pytest.raises(ValueError, match="already committed"):
        writer.write(b"x")
