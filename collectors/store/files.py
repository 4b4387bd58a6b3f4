"""Uploaded files: path rules and a local-directory file store.

A file store keeps each run's files under its own prefix. The small `FileStore` protocol
(`check_path`, `open_writer`, `open_read`) is what the files endpoint uses, so an fsspec/S3
implementation can be added beside `LocalFileStore`. Uploads are atomic: bytes go to a
temporary file in the target directory and replace the target only on `FileWriter.commit`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, Protocol

from runlog.conventions import check_file_path, is_valid_run_id

__all__ = [
    "FileStore",
    "FileTooLargeError",
    "FileWriter",
    "InvalidPathError",
    "LocalFileStore",
    "LocalFileWriter",
    "UploadTally",
    "check_path",
]

MAX_SEGMENT_BYTES: Final = 255  # what common filesystems allow for one name


class InvalidPathError(ValueError):
    """A file path or run id that may not be used (the message says why)."""


class FileTooLargeError(ValueError):
    """An upload went over the size limit; nothing was kept."""


def check_path(path: object) -> str:
    """Return *path* if it is a valid file path inside a run, else raise `InvalidPathError`.

    The rule is `runlog.conventions.check_file_path` (shared with the client); on top of it
    each segment must fit common filesystems (at most 255 bytes).
    """
    problem = check_file_path(path)
    if problem is not None and not isinstance(path, str):
        raise InvalidPathError(problem)
    if problem is None and any(
        len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES for segment in str(path).split("/")
    ):
        problem = f"a segment is longer than {MAX_SEGMENT_BYTES} bytes"
    if problem is not None:
        raise InvalidPathError(f"invalid file path {str(path)[:80]!r}: {problem}")
    return str(path)


class FileWriter(Protocol):
    """An upload in progress: `write` chunks, then `commit` (or `abort`)."""

    def write(self, data: bytes) -> None: ...

    def commit(self) -> tuple[int, str]:
        """Make the file visible; return its size and SHA-256 hex digest."""

    def abort(self) -> None: ...


class FileStore(Protocol):
    """Where uploaded files live (a local directory, or later any fsspec URL)."""

    def open_writer(self, run_id: str, path: str, max_size: int | None = None) -> FileWriter: ...

    def open_read(self, run_id: str, path: str) -> BinaryIO: ...


class UploadTally:
    """The size and SHA-256 of an upload's bytes so far, checked against its size limit
    (shared by the local and the object-storage writers)."""

    def __init__(self, max_size: int | None) -> None:
        self.max_size = max_size
        self._size = 0
        self._digest = hashlib.sha256()

    def add(self, data: bytes) -> bool:
        """Count and hash *data*; False (nothing hashed) when it passes the size limit."""
        self._size += len(data)
        if self.max_size is not None and self._size > self.max_size:
            return False
        self._digest.update(data)
        return True

    def result(self) -> tuple[int, str]:
        """The size and SHA-256 hex digest of what was added."""
        return self._size, self._digest.hexdigest()


class LocalFileWriter:
    """Writes to a temporary file beside the target; `commit` fsyncs and renames it.

    Usable as a context manager: leaving the block without `commit` aborts the upload.
    """

    def __init__(self, target: Path, max_size: int | None) -> None:
        self._target = target
        self._tally = UploadTally(max_size)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
        self._temp = Path(temp)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        """Append *data*; raises `FileTooLargeError` (and aborts) past the size limit."""
        if self._file is None:
            raise ValueError("the upload was already committed or aborted")
        if not self._tally.add(data):
            self.abort()
            raise FileTooLargeError(
                f"file {self._target.name!r} is larger than the limit of "
                f"{self._tally.max_size} bytes"
            )
        self._file.write(data)

    def commit(self) -> tuple[int, str]:
        """Flush, fsync and rename into place; return (size, sha256 hex digest)."""
        if self._file is None:
            raise ValueError("the upload was already committed or aborted")
        file, self._file = self._file, None
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            os.replace(self._temp, self._target)
        except BaseException:
            file.close()
            self._temp.unlink(missing_ok=True)
            raise
        _fsync_directory(self._target.parent)
        return self._tally.result()

    def abort(self) -> None:
        """Drop what was written; the previous file at the path (if any) stays."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._temp.unlink(missing_ok=True)

    def __enter__(self) -> LocalFileWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.abort()


class LocalFileStore:
    """Files in a local directory: ``<root>/<run_id>/<path>``.

    Args:
        root: The directory (created if missing).
        max_file_bytes: Default size limit of one upload (None: no limit).
    """

    def __init__(self, root: str | Path, max_file_bytes: int | None = None) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes = max_file_bytes

    check_path = staticmethod(check_path)

    def path_for(self, run_id: str, path: str) -> Path:
        """The local path of a run's file, guaranteed to lie under ``root/run_id``.

        Raises:
            InvalidPathError: The run id or path is invalid or would leave the run's folder.
        """
        if not is_valid_run_id(run_id) or run_id in (".", ".."):
            raise InvalidPathError(f"invalid run id {run_id!r}: expected 1-64 of [A-Za-z0-9_.-]")
        run_dir = self.root / run_id
        target = (run_dir / check_path(path)).resolve()
        if run_dir.resolve().parent != self.root or not target.is_relative_to(run_dir.resolve()):
            raise InvalidPathError(f"file path {path!r} leads outside the run's folder")
        return target

    def open_writer(self, run_id: str, path: str, max_size: int | None = None) -> LocalFileWriter:
        """Start an atomic upload of *path*; commit it to replace any earlier version.

        Raises:
            InvalidPathError: The path is invalid or clashes with a file or folder.
        """
        target = self.path_for(run_id, path)
        if target.is_dir():
            raise InvalidPathError(f"file path {path!r} is a folder of this run")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidPathError(f"file path {path!r} lies below a file of this run") from exc
        limit = self.max_file_bytes if max_size is None else max_size
        return LocalFileWriter(target, limit)

    def open_read(self, run_id: str, path: str) -> BinaryIO:
        """Open a stored file for reading.

        Raises:
            FileNotFoundError: The run has no such file.
        """
        target = self.path_for(run_id, path)
        if not target.is_file():
            raise FileNotFoundError(f"run {run_id!r} has no file {path!r}")
        return target.open("rb")


def _fsync_directory(directory: Path) -> None:
    """Persist a rename (POSIX); platforms that cannot open directories skip it."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
