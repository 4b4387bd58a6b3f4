"""Snapshots of a source folder: packed by the submitting client, checked by the collector.

A snapshot is a zip of the source folder without what ``.gitignore`` and ``.runlogignore``
files exclude (git's pattern rules, in the folder and its subfolders; ``.runlogignore``
patterns come after ``.gitignore``'s, so ``!name`` there takes a file back) and without
``.git/``. At most `MAX_FILES` files and `MAX_BYTES` bytes (Azure ML's limits).

Its identity is a content digest: SHA-256 over the sorted lines ``path NUL mode NUL sha256``
of its files, so the same sources give the same digest whatever their times or the zip's
compression. The collector recomputes it from the uploaded zip (`read_manifest`) and keeps
one copy per digest.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from runlog import conventions as c
from runlog.exceptions import InvalidArgumentError

MAX_FILES: Final = 2000
MAX_BYTES: Final = 300 * 1024 * 1024
IGNORE_FILES: Final = (".gitignore", ".runlogignore")
ALWAYS_IGNORED: Final = frozenset({".git"})
#: The name of the snapshot among a submitted run's files.
FILE_NAME: Final = c.SNAPSHOT_FILE
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)
_CHUNK: Final = 1 << 20


class SnapshotError(InvalidArgumentError):
    """A source folder or snapshot that cannot be used (too large, bad paths, no script)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A packed snapshot: the zip's path, its content digest, file count and bytes."""

    path: Path
    digest: str
    file_count: int
    size: int


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"


class _Ignores:
    """The ignore patterns in force for one folder (its own files and its parents')."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._specs: dict[str, Any] = {}

    def load(self, folder: str) -> None:
        lines: list[str] = []
        for name in IGNORE_FILES:
            path = self._root / folder / name
            if path.is_file():
                lines += path.read_text(errors="replace").splitlines()
        if lines:
            import pathspec

            self._specs[folder] = pathspec.GitIgnoreSpec.from_lines(lines)

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Whether *path* (relative to the root) is excluded; the deepest decision wins."""
        if path.rsplit("/", 1)[-1] in ALWAYS_IGNORED:
            return True
        decision = False
        for folder, spec in self._specs.items():
            prefix = f"{folder}/" if folder else ""
            if not path.startswith(prefix):
                continue
            result = spec.check_file(path[len(prefix) :] + ("/" if is_dir else ""))
            if result.include is not None:
                decision = bool(result.include)
        return decision


def source_files(source: Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(relative path, file)`` of every file a snapshot of *source* holds, sorted
    within each folder. Symbolic links to files are followed; links to folders are not."""
    ignores = _Ignores(source)
    for folder, dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source).as_posix()
        relative = "" if relative == "." else relative
        ignores.load(relative)
        prefix = f"{relative}/" if relative else ""
        dirs[:] = sorted(d for d in dirs if not ignores.ignored(prefix + d, is_dir=True))
        for name in sorted(files):
            path = Path(folder) / name
            if not ignores.ignored(prefix + name, is_dir=False) and path.is_file():
                yield prefix + name, path


def _too_many(source: Path, found: list[str], limit: int) -> SnapshotError:
    top = Counter(p.split("/", 1)[0] + ("/" if "/" in p else "") for p in found)
    largest = ", ".join(f"{name} {count:,}" for name, count in top.most_common(3))
    return SnapshotError(
        f"source directory {str(source)!r} holds more than {limit:,} files after "
        f".gitignore/.runlogignore (most under: {largest}); list what the run does not need "
        "(data, checkpoints, virtual environments) in .runlogignore, or move it out"
    )


def _too_big(source: Path, sizes: dict[str, int], limit: int) -> SnapshotError:
    top: Counter[str] = Counter()
    for path, size in sizes.items():
        top[path.split("/", 1)[0] + ("/" if "/" in path else "")] += size
    largest = ", ".join(f"{name} {_megabytes(size)}" for name, size in top.most_common(3))
    return SnapshotError(
        f"source directory {str(source)!r} holds {_megabytes(sum(sizes.values()))} after "
        f".gitignore/.runlogignore; the limit is {_megabytes(limit)} (largest: {largest}); "
        "list big files the run does not need in .runlogignore, or move them out"
    )


def collect(
    source: str | os.PathLike[str],
    script: str,
    max_files: int = MAX_FILES,
    max_bytes: int = MAX_BYTES,
) -> list[tuple[str, Path]]:
    """The files a snapshot of *source* holds, checked against the limits and the script.

    Raises:
        SnapshotError: the folder is missing, over a limit, or lacks *script*.
    """
    root = Path(source).expanduser().resolve()
    if not root.is_dir():
        raise SnapshotError(f"source directory {str(source)!r} does not exist or is no folder")
    script_path = check_script(script)
    found: list[tuple[str, Path]] = []
    sizes: dict[str, int] = {}
    for relative, path in source_files(root):
        found.append((relative, path))
        if len(found) > max_files:
            raise _too_many(root, [p for p, _ in found], max_files)
        sizes[relative] = path.stat().st_size
    if sum(sizes.values()) > max_bytes:
        raise _too_big(root, sizes, max_bytes)
    if script_path not in sizes:
        reason = (
            "is excluded by .gitignore/.runlogignore"
            if (root / script_path).is_file()
            else "does not exist"
        )
        raise SnapshotError(
            f"script {script!r} {reason} in source directory {str(root)!r}; give its path "
            "relative to the source directory, e.g. script='train.py'"
        )
    return found


def check_script(script: str) -> str:
    """Return *script* as a relative ``/`` path inside the source folder, or raise."""
    text = str(script).replace(os.sep, "/")
    while text.startswith("./"):
        text = text[2:]
    problem = c.check_file_path(text)
    if problem is not None:
        raise SnapshotError(
            f"script {script!r} must be a path relative to the source directory, "
            f"e.g. 'train.py': {problem}"
        )
    return text


def _mode(path: Path) -> int:
    return 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644


def manifest_digest(entries: list[tuple[str, int, str]]) -> str:
    """The content digest of ``(path, mode, sha256)`` entries (any order)."""
    digest = hashlib.sha256()
    for path, mode, sha in sorted(entries):
        digest.update(f"{path}\0{mode:o}\0{sha}\n".encode())
    return digest.hexdigest()


def pack(
    source: str | os.PathLike[str], script: str, target: str | os.PathLike[str], **limits: int
) -> Snapshot:
    """Zip the snapshot of *source* into the file *target* and return what it holds.

    Raises:
        SnapshotError: see `collect`.
    """
    files = collect(source, script, **limits)
    entries: list[tuple[str, int, str]] = []
    size = 0
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for relative, path in files:
            mode = _mode(path)
            info = zipfile.ZipInfo(relative, _ZIP_TIME)
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            sha = hashlib.sha256()
            with path.open("rb") as source_file, archive.open(info, "w") as out:
                while chunk := source_file.read(_CHUNK):
                    sha.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            entries.append((relative, mode, sha.hexdigest()))
    return Snapshot(Path(target), manifest_digest(entries), len(entries), size)


def _entry_mode(info: zipfile.ZipInfo) -> int:
    return 0o755 if (info.external_attr >> 16) & stat.S_IXUSR else 0o644


def _checked_members(
    archive: zipfile.ZipFile, max_files: int, max_bytes: int
) -> list[zipfile.ZipInfo]:
    members = [i for i in archive.infolist() if not i.is_dir()]
    if len(members) > max_files:
        raise SnapshotError(f"snapshot holds {len(members):,} files; the limit is {max_files:,}")
    declared = sum(i.file_size for i in members)
    if declared > max_bytes:
        raise SnapshotError(
            f"snapshot holds {_megabytes(declared)}; the limit is {_megabytes(max_bytes)}"
        )
    seen: set[str] = set()
    for info in members:
        problem = c.check_file_path(info.filename)
        if problem is not None:
            raise SnapshotError(f"snapshot entry {info.filename[:80]!r} is refused: {problem}")
        if info.filename in seen:
            raise SnapshotError(f"snapshot lists {info.filename!r} twice")
        seen.add(info.filename)
    return members


def read_manifest(
    path: str | os.PathLike[str], max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES
) -> Snapshot:
    """Check an uploaded snapshot zip and compute its digest from its contents.

    Raises:
        SnapshotError: not a zip, an entry path that leaves the folder, over a limit.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = _checked_members(archive, max_files, max_bytes)
            entries = []
            for info in members:
                with archive.open(info) as stream:
                    entries.append((info.filename, _entry_mode(info), _sha256(stream)))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, SnapshotError):
            raise
        raise SnapshotError(f"snapshot is not a readable zip file: {exc}") from None
    size = sum(i.file_size for i in members)
    return Snapshot(Path(path), manifest_digest(entries), len(entries), size)


def _sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def extract(path: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Unpack a snapshot (checked by `read_manifest`) into the folder *target*."""
    root = Path(target)
    root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path) as archive:
        for info in _checked_members(archive, MAX_FILES, MAX_BYTES):
            destination = root / info.filename
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as stream, destination.open("wb") as out:
                while chunk := stream.read(_CHUNK):
                    out.write(chunk)
            destination.chmod(_entry_mode(info))
