"""Run files in object storage or any fsspec filesystem (``--files s3://bucket/prefix``).

`FsspecFileStore` has the same two methods as `LocalFileStore` (`FileStore`), so the one
upload path (`collectors.read.run_files`), the files API and the MLflow artifact proxy use it
unchanged. Objects live at ``<prefix>/<run_id>/<path>``. Uploads stream: the writer hands
blocks to fsspec, which sends them as the parts of a multipart upload (5 MiB each on S3) and
completes it on commit, so an object appears whole or not at all and a file is never held in
memory; an aborted upload is discarded. Reads stream too.

`check` proves at start that the location is usable (credentials, bucket, permission) by
writing, reading and deleting a small probe object, so a wrong credential stops the
collector with a clear message instead of failing the first upload.
"""

from __future__ import annotations

import uuid
from typing import Any, BinaryIO

from collectors.store.files import FileTooLargeError, InvalidPathError, UploadTally, check_path
from runlog.conventions import is_valid_run_id
from runlog.exceptions import ConfigError

__all__ = ["FsspecFileStore", "FsspecFileWriter"]

#: Bytes per multipart part (S3's minimum part is 5 MiB).
BLOCK_SIZE = 8 * 1024 * 1024


class FsspecFileWriter:
    """One upload in progress: counts, hashes and streams the bytes; `commit` completes it."""

    def __init__(self, handle: Any, max_size: int | None) -> None:
        self._handle: Any = handle
        self._tally = UploadTally(max_size)

    def write(self, data: bytes) -> None:
        """Append *data*.

        Raises:
            FileTooLargeError: the file passed the size limit (the upload is discarded).
        """
        if self._handle is None:
            raise ValueError("the upload was already committed or aborted")
        if not self._tally.add(data):
            self.abort()
            limit = self._tally.max_size
            raise FileTooLargeError(f"file is larger than the limit of {limit} bytes")
        self._handle.write(data)

    def commit(self) -> tuple[int, str]:
        """Complete the upload; return (size, sha256 hex digest)."""
        if self._handle is None:
            raise ValueError("the upload was already committed or aborted")
        handle, self._handle = self._handle, None
        handle.close()
        return self._tally.result()

    def abort(self) -> None:
        """Discard what was written; an earlier object at the path stays."""
        handle, self._handle = self._handle, None
        if handle is not None:
            discard = getattr(handle, "discard", None)
            if discard is not None:
                discard()  # abort the multipart upload: nothing becomes visible
            else:
                handle.close()

    def __enter__(self) -> FsspecFileWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()


class FsspecFileStore:
    """Run files at an fsspec URL: ``s3://bucket/prefix``, ``gs://…``, ``memory://…``.

    Args:
        url: where the files go; credentials come from the environment as fsspec reads them
            (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, profiles, instance roles).
        max_file_bytes: default size limit of one upload (None: no limit).
        storage_options: passed to the filesystem (e.g. ``endpoint_url``).
    """

    def __init__(self, url: str, max_file_bytes: int | None = None, **storage_options: Any):
        import fsspec

        self.url = url
        self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = root.rstrip("/")
        self.max_file_bytes = max_file_bytes

    check_path = staticmethod(check_path)

    def key_for(self, run_id: str, path: str) -> str:
        """The object key of a run's file.

        Raises:
            InvalidPathError: the run id or path is invalid.
        """
        if not is_valid_run_id(run_id) or run_id in (".", ".."):
            raise InvalidPathError(f"invalid run id {run_id!r}: expected 1-64 of [A-Za-z0-9_.-]")
        return f"{self.root}/{run_id}/{check_path(path)}"

    def open_writer(self, run_id: str, path: str, max_size: int | None = None) -> FsspecFileWriter:
        """Start a streamed upload of *path*; commit it to replace any earlier version."""
        handle = self.fs.open(self.key_for(run_id, path), "wb", block_size=BLOCK_SIZE)
        return FsspecFileWriter(handle, self.max_file_bytes if max_size is None else max_size)

    def open_read(self, run_id: str, path: str) -> BinaryIO:
        """Open a stored file for streamed reading.

        Raises:
            FileNotFoundError: the run has no such file.
        """
        key = self.key_for(run_id, path)
        if not self.fs.isfile(key):
            raise FileNotFoundError(f"run {run_id!r} has no file {path!r}")
        handle: BinaryIO = self.fs.open(key, "rb", block_size=BLOCK_SIZE)
        return handle

    def check(self) -> None:
        """Write, read back and delete a probe object.

        Raises:
            ConfigError: the location cannot be used (credentials, bucket, permissions).
        """
        probe = f"{self.root}/.runlog-probe-{uuid.uuid4().hex}"
        try:
            self.fs.pipe_file(probe, b"runlog")
            if self.fs.cat_file(probe) != b"runlog":
                raise OSError("the probe object read back differently")
            self.fs.rm_file(probe)
        except Exception as exc:
            raise ConfigError(
                f"cannot use --files {self.url}: {type(exc).__name__}: {exc}. Check the "
                "credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile), the "
                "endpoint (AWS_ENDPOINT_URL) and that the bucket exists and is writable"
            ) from exc
