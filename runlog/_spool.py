"""The durable disk spool: where data waits while the collector cannot be reached.

Layout of a spool directory (default ``~/.runlog/spool``, or ``RUNLOG_SPOOL_DIR``)::

    <time_ns>-<pid>-<n>.logs.pb          one serialised ExportLogsServiceRequest
    <time_ns>-<pid>-<n>.upload           a file's bytes waiting for upload
    <time_ns>-<pid>-<n>.upload.json      where it goes: {"run_id", "experiment", "path"}

Entries are written to a temporary name and renamed, so a reader never sees half an entry.
A replayer claims an entry by renaming it to ``….inflight-<pid>``; only one process wins
the rename. After a successful send the entry is deleted; after a failure it is renamed
back. Claims older than `STALE_CLAIM_SECONDS` (their process died) are taken back.
Requests carry batch ids, so a replay of something the collector already kept is ignored.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from runlog import conventions as c

_log = logging.getLogger("runlog.internal")

LOGS_SUFFIX = ".logs.pb"
UPLOAD_SUFFIX = ".upload"
META_SUFFIX = ".upload.json"
INFLIGHT = ".inflight-"
STALE_CLAIM_SECONDS = 600
DEFAULT_MAX_BYTES = 2 * 1024**3


def default_dir() -> Path:
    """``RUNLOG_SPOOL_DIR``, else ``~/.runlog/spool``."""
    configured = os.environ.get(c.ENV_SPOOL_DIR)
    return Path(configured) if configured else Path.home() / ".runlog" / "spool"


@dataclass(frozen=True, slots=True)
class Upload:
    """A spooled file upload."""

    data: Path
    run_id: str
    experiment: str
    path: str


@dataclass(slots=True)
class ReplayResult:
    """What a replay did."""

    sent: int = 0
    failed: int = 0
    left: int = 0


class SpoolFullError(OSError):
    """The spool has reached its size limit."""


class Spool:
    """One spool directory."""

    def __init__(
        self, directory: str | os.PathLike[str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.directory = Path(directory) if directory else default_dir()
        self.max_bytes = max_bytes
        self._counter = 0

    # --- writing -----------------------------------------------------------------------------
    def _new_name(self) -> str:
        self._counter += 1
        return f"{time.time_ns():020d}-{os.getpid()}-{self._counter:06d}"

    def _ensure_room(self, size: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.size() + size > self.max_bytes:
            raise SpoolFullError(
                f"runlog spool {self.directory} is full ({self.max_bytes} bytes); "
                "start the collector and run `runlog sync`, or raise the limit"
            )

    def _publish(self, name: str, write: Callable[[IO[bytes]], object]) -> Path:
        final = self.directory / name
        temporary = self.directory / f".{name}.tmp"
        with open(temporary, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, final)
        return final

    def write_logs(self, body: bytes) -> Path:
        """Keep one serialised logs request; raise `SpoolFullError` past the size limit."""
        self._ensure_room(len(body))
        return self._publish(self._new_name() + LOGS_SUFFIX, lambda s: s.write(body))

    def stage_upload(
        self,
        run_id: str,
        experiment: str,
        path: str,
        source: str | os.PathLike[str] | IO[bytes] | bytes,
    ) -> Upload:
        """Copy *source* into the spool now, so later changes to it do not matter."""
        self._ensure_room(_source_size(source))
        name = self._new_name()

        def copy(stream: IO[bytes]) -> None:
            if isinstance(source, bytes):
                stream.write(source)
            elif isinstance(source, (str, os.PathLike)):
                with open(source, "rb") as original:
                    shutil.copyfileobj(original, stream, 1024 * 1024)
            else:
                shutil.copyfileobj(source, stream, 1024 * 1024)

        meta = {"run_id": run_id, "experiment": experiment, "path": path}
        # The metadata goes first: a replayer only looks at entries whose data file exists.
        self._publish(name + META_SUFFIX, lambda s: s.write(json.dumps(meta).encode()))
        data = self._publish(name + UPLOAD_SUFFIX, copy)
        return Upload(data, run_id, experiment, path)

    # --- reading -----------------------------------------------------------------------------
    def size(self) -> int:
        """Bytes held in the spool now."""
        if not self.directory.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.directory.iterdir() if p.is_file())

    def pending(self) -> list[Path]:
        """Unclaimed entries (logs requests and upload data files), oldest first."""
        if not self.directory.is_dir():
            return []
        self._reclaim_stale()
        names = sorted(p.name for p in self.directory.iterdir())
        return [
            self.directory / n
            for n in names
            if n.endswith((LOGS_SUFFIX, UPLOAD_SUFFIX)) and not n.startswith(".")
        ]

    def _reclaim_stale(self) -> None:
        limit = time.time() - STALE_CLAIM_SECONDS
        for path in self.directory.glob(f"*{INFLIGHT}*"):
            try:
                if path.stat().st_mtime < limit:
                    os.replace(path, path.with_name(path.name.split(INFLIGHT)[0]))
            except OSError:
                continue  # another replayer took it back first

    def replay(
        self, send_logs: Callable[[bytes], None], send_upload: Callable[[Upload], None]
    ) -> ReplayResult:
        """Send every pending entry in order; stop at the first failure (collector down).

        *send_logs* / *send_upload* raise on failure; the entry then stays in the spool.
        """
        result = ReplayResult()
        for entry in self.pending():
            claimed = _claim(entry)
            if claimed is None:
                continue
            try:
                _send(claimed, entry, send_logs, send_upload)
            except Exception as exc:  # the entry stays for the next replay
                os.replace(claimed, entry)
                result.failed += 1
                _log.warning("spool replay of %s stopped: %s", entry.name, exc)
                break
            _delete(claimed, entry)
            result.sent += 1
        result.left = len(self.pending())
        return result

    def replay_one(
        self, entry: Path, send_logs: Callable[[bytes], None], send_upload: Callable[[Upload], None]
    ) -> bool:
        """Send one entry now; False if another process had claimed it. Raises on failure."""
        claimed = _claim(entry)
        if claimed is None:
            return False
        try:
            _send(claimed, entry, send_logs, send_upload)
        except BaseException:
            os.replace(claimed, entry)
            raise
        _delete(claimed, entry)
        return True

    def iter_uploads(self) -> Iterator[Upload]:
        """Pending uploads (for inspection and tests)."""
        for entry in self.pending():
            if entry.name.endswith(UPLOAD_SUFFIX):
                yield _read_upload(entry, entry)


def _source_size(source: Any) -> int:
    if isinstance(source, bytes):
        return len(source)
    if isinstance(source, (str, os.PathLike)):
        return os.path.getsize(source)
    return 0


def _claim(entry: Path) -> Path | None:
    """Rename *entry* to a name of this process; None if another process got it first."""
    claimed = entry.with_name(f"{entry.name}{INFLIGHT}{os.getpid()}")
    try:
        os.rename(entry, claimed)
    except OSError:
        return None
    return claimed


def _meta_path(entry: Path) -> Path:
    return entry.with_name(entry.name[: -len(UPLOAD_SUFFIX)] + META_SUFFIX)


def _read_upload(data: Path, entry: Path) -> Upload:
    meta = json.loads(_meta_path(entry).read_text(encoding="utf-8"))
    return Upload(data, meta["run_id"], meta.get("experiment", c.DEFAULT_EXPERIMENT), meta["path"])


def _send(
    claimed: Path,
    entry: Path,
    send_logs: Callable[[bytes], None],
    send_upload: Callable[[Upload], None],
) -> None:
    if entry.name.endswith(LOGS_SUFFIX):
        send_logs(claimed.read_bytes())
    else:
        send_upload(_read_upload(claimed, entry))


def _delete(claimed: Path, entry: Path) -> None:
    claimed.unlink(missing_ok=True)
    if entry.name.endswith(UPLOAD_SUFFIX):
        _meta_path(entry).unlink(missing_ok=True)


def sync(
    endpoint: str | None = None,
    token: str | None = None,
    directory: str | os.PathLike[str] | None = None,
) -> ReplayResult:
    """Replay the spool to the collector (``runlog sync``).

    Data the collector refuses outright (4xx other than auth) is logged and removed, so one
    bad entry cannot block the rest; anything else stops the replay and stays spooled.
    """
    from runlog._config import resolve
    from runlog._transport import Sender

    settings = resolve(endpoint, token)
    sender = Sender(settings.endpoint, settings.token)
    try:
        return Spool(directory).replay(sender.deliver_logs, sender.deliver_file)
    finally:
        sender.close()
