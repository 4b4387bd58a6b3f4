"""Snapshots of a source folder: ignore files, limits, the content digest, checked zips."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from runlog import snapshot
from runlog.snapshot import SnapshotError


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def names(root: Path) -> list[str]:
    return sorted(relative for relative, _ in snapshot.source_files(root))


def test_gitignore_and_runlogignore_apply_with_runlogignore_last(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "train.py": "",
            "data/big.csv": "",
            "model.pkl": "",
            "keep.pkl": "",
            "sub/.gitignore": "*.log\n",
            "sub/a.log": "",
            "sub/a.py": "",
            ".git/HEAD": "",
            ".gitignore": "*.pkl\ndata/\n",
            ".runlogignore": "!keep.pkl\n",
        },
    )
    assert [
        ".gitignore",
        ".runlogignore",
        "keep.pkl",
        "sub/.gitignore",
        "sub/a.py",
        "train.py",
    ] == names(root)


def test_digest_depends_on_content_and_mode_not_on_time(tmp_path: Path) -> None:
    root = tree(tmp_path / "src", {"train.py": "print(1)\n", "lib/x.py": "X = 1\n"})
    first = snapshot.pack(root, "train.py", tmp_path / "a.zip")
    (root / "train.py").touch()
    second = snapshot.pack(root, "train.py", tmp_path / "b.zip")
    (root / "lib" / "x.py").write_text("X = 2\n")
    third = snapshot.pack(root, "train.py", tmp_path / "c.zip")

    assert first.digest == second.digest != third.digest
    assert (2, 15) == (first.file_count, first.size)
    assert first.digest == snapshot.read_manifest(first.path).digest


def test_extract_restores_files_and_the_executable_bit(tmp_path: Path) -> None:
    root = tree(tmp_path / "src", {"run.sh": "#!/bin/sh\n", "train.py": "x"})
    (root / "run.sh").chmod(0o755)
    packed = snapshot.pack(root, "train.py", tmp_path / "s.zip")
    snapshot.extract(packed.path, tmp_path / "out")

    assert "#!/bin/sh\n" == (tmp_path / "out" / "run.sh").read_text()
    assert (tmp_path / "out" / "run.sh").stat().st_mode & 0o100
    assert not (tmp_path / "out" / "train.py").stat().st_mode & 0o100


def test_limits_name_the_biggest_folders(tmp_path: Path) -> None:
    root = tree(tmp_path, {"train.py": "", "data/a.bin": "x" * 2000, "b.txt": "x" * 10})
    with pytest.raises(SnapshotError, match=r"limit is 0.0 MB \(largest: data/ 0.0 MB"):
        snapshot.collect(root, "train.py", max_bytes=1000)
    with pytest.raises(SnapshotError, match=r"more than 2 files"):
        snapshot.collect(root, "train.py", max_files=2)


@pytest.mark.parametrize("script", ["../train.py", "/abs/train.py", "", "a/../../b.py"])
def test_script_outside_the_folder_is_refused(tmp_path: Path, script: str) -> None:
    with pytest.raises(SnapshotError, match="relative to the source directory"):
        snapshot.collect(tree(tmp_path, {"train.py": ""}), script)


def test_missing_source_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="does not exist"):
        snapshot.collect(tmp_path / "nope", "train.py")


def test_a_zip_with_an_escaping_path_or_no_zip_at_all_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("/etc/passwd", "x")
    with pytest.raises(SnapshotError, match="absolute"):
        snapshot.read_manifest(bad)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(SnapshotError, match="not a readable zip"):
        snapshot.read_manifest(tmp_path / "junk.zip")
