"""Source snapshots kept once per content digest: ``<data dir>/snapshots/<digest>.zip``.

An upload is written to a temporary file, checked (`runlog.snapshot.read_manifest`: paths
confined to the folder, the file and size limits, the digest recomputed from its contents)
and only then renamed into place. A run's ``snapshot.zip`` file is a hard link to the kept
zip (a copy where links are impossible), so its bytes are stored once.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Final

from collectors.store.files import FileStore, LocalFileStore
from runlog import snapshot

DIGEST: Final = re.compile(r"[0-9a-f]{64}")
#: Largest zip accepted: the content limit, plus room for the zip's own headers.
MAX_UPLOAD_BYTES: Final = snapshot.MAX_BYTES + 16 * 1024 * 1024


class SnapshotStore:
    """Snapshot zips in one folder, named by digest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        """Where the snapshot *digest* lies (whether or not it exists)."""
        if not DIGEST.fullmatch(digest):
            raise ValueError(f"snapshot id {digest[:80]!r} is not 64 lowercase hex digits")
        return self.root / f"{digest}.zip"

    def exists(self, digest: str) -> bool:
        """Whether the snapshot's zip is here."""
        return self.path(digest).is_file()

    def temporary(self) -> tuple[BinaryIO, Path]:
        """A new temporary file beside the snapshots for an upload."""
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".upload-", suffix=".zip")
        return os.fdopen(fd, "wb"), Path(name)

    def keep(self, upload: Path, digest: str) -> snapshot.Snapshot:
        """Check *upload* and keep it as snapshot *digest*.

        Raises:
            SnapshotError: a bad zip, a limit passed, or contents of another digest.
        """
        try:
            found = snapshot.read_manifest(upload)
            if found.digest != digest:
                raise snapshot.SnapshotError(
                    f"snapshot contents have digest {found.digest}, not {digest}; "
                    "the upload was damaged or the id is wrong"
                )
            os.replace(upload, self.path(digest))
        finally:
            upload.unlink(missing_ok=True)
        return found

    def link_into_run(self, files: FileStore, run_id: str, digest: str) -> tuple[int, str]:
        """Make the snapshot the run's file ``snapshot.zip``; return its size and SHA-256."""
        source = self.path(digest)
        with source.open("rb") as stream:
            size, sha256 = _hash(stream)
        if isinstance(files, LocalFileStore):
            target = files.path_for(run_id, snapshot.FILE_NAME)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            try:
                os.link(source, target)
            except OSError:  # another file system: a copy it is
                shutil.copyfile(source, target)
            return size, sha256
        writer = files.open_writer(run_id, snapshot.FILE_NAME)
        with source.open("rb") as stream:
            while chunk := stream.read(1024 * 1024):
                writer.write(chunk)
        return writer.commit()

    def extract(self, digest: str, target: Path) -> None:
        """Unpack the snapshot into the folder *target* (a run's fresh working copy)."""
        snapshot.extract(self.path(digest), target)


def _hash(stream: BinaryIO) -> tuple[int, str]:
    import hashlib

    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()
