"""The durable disk spool: where run data waits while its collector cannot be reached.

This module is the spool's public, documented format (docs/spool.md): the client writes
it, and both ``runlog sync`` and a collector started with ``--replay-spool`` read it.

Layout of a spool directory (default ``~/.runlog/spool``, or ``RUNLOG_SPOOL_DIR``)::

    <time_ns>-<pid>-<n>.logs           one logs request: MAGIC, a JSON header line, the body
    <time_ns>-<pid>-<n>.upload         a file's bytes waiting for upload
    <time_ns>-<pid>-<n>.upload.json    its header: destination, run, path, size, digest
    quarantine/                        torn or corrupt entries, set aside (never sent)

Every entry names its **destination**, the normalised endpoint of the collector it was
meant for, and a digest of its bytes (xxh3-128, or SHA-256 without xxhash). A collector
replays only its own entries, a client that reconnects replays only its endpoint's
entries, and ``runlog sync`` sends each entry where it belongs. An entry whose header
does not parse, whose size or checksum does not match (a torn write, a flipped byte) is
moved to ``quarantine/`` with a warning naming it, and replay goes on with the next one.

Entries are written under a hidden temporary name and renamed, so a reader never sees
half an entry. A replayer claims an entry by renaming it to ``….inflight-<pid>``; only one
process wins the rename. After a successful send the entry is deleted; after a failure it
is renamed back. A claim whose process is gone (or whose pid now belongs to a younger
process) is taken back. Requests carry batch ids, so a replay of something the collector
already kept is ignored; a replay sends exactly the bytes that were spooled.

Entries of the first format (``.logs.pb`` with no header, ``.upload.json`` without
``destination``) have no destination: only ``runlog sync`` sends them, to the endpoint it
is given.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from runlog import conventions as c
from runlog._spool_files import (
    CLONED,
    COPY,
    LINKED,
    _claim,
    _clone_or_link,
    _Direct,
    _hash_checked,
    _identity,
    _owner_gone,
    _Stager,
    _writer_gone,
)
from runlog._spool_format import (
    DEFAULT_MAX_BYTES,
    FORMAT,
    INFLIGHT,
    LEGACY_LOGS_SUFFIX,
    LOGS_SUFFIX,
    MAGIC,
    META_SUFFIX,
    QUARANTINE_DIR,
    STALE_CLAIM_SECONDS,
    UPLOAD_SUFFIX,
    CorruptEntryError,
    Entry,
    ReplayStopped,
    SendLogs,
    SendUpload,
    SpoolFullError,
    Upload,
    _delete,
    _destination_of,
    _digest_of,
    _Key,
    _meta_path,
    _send,
    decode_logs_entry,
    default_dir,
    destination_key,
    encode_logs_entry,
    listening_accepts,
    same_collector,
)

_log = logging.getLogger("runlog.internal")


@dataclass(slots=True)
class ReplayResult:
    """What a replay did: entries sent, failed (still spooled), left, and set aside."""

    sent: int = 0
    failed: int = 0
    left: int = 0
    quarantined: list[Path] = field(default_factory=list)
    error: str = ""


_warned_unwritable: set[str] = set()


class Spool:
    """One spool directory, writing for one destination.

    Args:
        directory: the spool directory (default: `default_dir`).
        max_bytes: the size limit; past it, writes raise `SpoolFullError`.
        destination: the collector endpoint new entries are meant for and whose entries
            `replay` sends; default: the configured endpoint (``RUNLOG_ENDPOINT``,
            ``.runlog/config.json``, else ``http://127.0.0.1:4318``).
        check: probe once whether the directory can be written and warn loudly if not
            (off for readers such as a collector replaying it).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        destination: str | None = None,
        check: bool = True,
    ) -> None:
        self.directory = Path(directory) if directory else default_dir()
        self.max_bytes = max_bytes
        self.destination = _normalise(destination) if destination else _configured()
        self._counter = 0
        self._lock = threading.Lock()
        self._direct: dict[Path, list[_Direct]] = {}  # by the path the caller holds
        self._staging: dict[Path, threading.Event] = {}
        self._stager: _Stager | None = None
        self.writable = self.probe() if check else True

    def probe(self) -> bool:
        """Whether the directory can be written; says so loudly, once, when it cannot."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / f".probe-{os.getpid()}-{threading.get_ident()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            key = str(self.directory)
            if key not in _warned_unwritable:
                _warned_unwritable.add(key)
                _log.error(
                    "runlog spool %s cannot be written (%s): files are uploaded directly "
                    "and run data is sent straight to the collector, but anything it cannot "
                    "take while it is unreachable will be LOST; set %s to a writable folder",
                    self.directory,
                    exc.strerror or exc,
                    c.ENV_SPOOL_DIR,
                )
            return False
        return True

    # --- writing -----------------------------------------------------------------------------
    def _new_name(self) -> str:
        with self._lock:
            self._counter += 1
            counter = self._counter
        return f"{time.time_ns():020d}-{os.getpid()}-{counter:06d}"

    def _ensure_room(self, size: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.size() + size > self.max_bytes:
            raise SpoolFullError(
                errno.ENOSPC,
                f"runlog spool {self.directory} is full ({self.max_bytes} bytes); "
                "start the collector and run `runlog sync`, or raise the limit",
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
        raw = encode_logs_entry(body, self.destination)
        self._ensure_room(len(raw))
        return self._publish(self._new_name() + LOGS_SUFFIX, lambda s: s.write(raw))

    def stage_upload(
        self,
        run_id: str,
        experiment: str,
        path: str,
        source: str | os.PathLike[str] | IO[bytes] | bytes,
    ) -> Upload:
        """Keep *source* as it is now for upload, without blocking the caller for long.

        Bytes and streams are written at once. A file is cloned (copy-on-write) or hard
        linked into the spool where the filesystem allows, else copied by a background
        thread that checks the file's identity (size, mtime, inode) and warns if it
        changed. When the spool cannot be written, the file is uploaded directly from
        where it is (bytes and streams from a temporary file).

        Raises:
            OSError: *source* cannot be read.
        """
        name = self._new_name()
        upload = Upload(self.directory / (name + UPLOAD_SUFFIX), run_id, experiment, path)
        if isinstance(source, (str, os.PathLike)):
            return self._stage_file(upload, Path(source))
        content = source if isinstance(source, bytes) else source.read()
        try:
            self._ensure_room(len(content))
            self._write_upload(upload, content)
        except OSError as exc:
            return self._go_direct_with_bytes(upload, content, exc)
        return upload

    def _write_upload(self, upload: Upload, content: bytes) -> None:
        temporary = upload.data.with_name(f".{upload.data.name}.tmp")
        with open(temporary, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        self._finish_upload(upload, temporary, len(content), _digest_of(content))

    def _finish_upload(
        self, upload: Upload, temporary: Path, size: int, digest: str, linked: bool = False
    ) -> None:
        """Publish the header, then the data (a replayer looks only at data files)."""
        stat = temporary.stat()
        meta = {
            "linked": linked,
            "mtime_ns": stat.st_mtime_ns,
            "format": FORMAT,
            "destination": self.destination,
            "run_id": upload.run_id,
            "experiment": upload.experiment,
            "path": upload.path,
            "size": size,
            "digest": digest,
        }
        header = json.dumps(meta, sort_keys=True).encode()
        self._publish(_meta_path(upload.data).name, lambda s: s.write(header))
        os.replace(temporary, upload.data)

    def _stage_file(self, upload: Upload, source: Path) -> Upload:
        identity = _identity(source.stat())
        temporary = upload.data.with_name(f".{upload.data.name}.tmp")
        try:
            self._ensure_room(identity[0])
            how = _clone_or_link(source, temporary)
        except OSError as exc:
            return self._go_direct(upload, source, identity, exc, source)
        done = threading.Event()
        with self._lock:
            self._staging[upload.data] = done
            if self._stager is None or self._stager.finished:
                self._stager = _Stager(self._lock, self._stage_in_background)
                self._stager.start()
            self._stager.jobs.put((upload, source, identity, temporary, how, done))
        return upload

    def _stage_in_background(
        self,
        upload: Upload,
        source: Path,
        identity: tuple[int, ...],
        temporary: Path,
        how: str,
        done: threading.Event,
    ) -> None:
        try:
            label = f"runlog: keeping {upload.path} for upload"
            copied = how == COPY
            digest, now = _hash_checked(source if copied else temporary, temporary, copied, label)
            if how != CLONED and now[:2] != identity[:2]:  # a clone is a snapshot of the call
                _log.warning(
                    "file %s changed after upload_file() was called; run %s gets its "
                    "content as of %s",
                    source,
                    upload.run_id,
                    time.strftime("%H:%M:%S"),
                )
            self._finish_upload(upload, temporary, now[0], digest, how == LINKED)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            self._go_direct(upload, source, identity, exc, upload.data)
        finally:
            with self._lock:
                self._staging.pop(upload.data, None)
            done.set()

    # --- direct uploads (the spool cannot take them) ------------------------------------------
    def _go_direct(
        self, upload: Upload, source: Path, identity: tuple[int, ...], exc: OSError, key: Path
    ) -> Upload:
        direct = Upload(source, upload.run_id, upload.experiment, upload.path)
        self._hold(key, _Direct(direct, identity, temporary=False, key=key))
        _log.warning(
            "runlog spool %s cannot take file %s (%s); uploading it directly from where it is",
            self.directory,
            source,
            exc.strerror or exc,
        )
        return direct

    def _go_direct_with_bytes(self, upload: Upload, content: bytes, exc: OSError) -> Upload:
        import tempfile

        with tempfile.NamedTemporaryFile(prefix="runlog-upload-", delete=False) as stream:
            stream.write(content)
        direct = Upload(Path(stream.name), upload.run_id, upload.experiment, upload.path)
        identity = _identity(direct.data.stat())
        self._hold(direct.data, _Direct(direct, identity, temporary=True, key=direct.data))
        _log.warning(
            "runlog spool %s cannot take file %r of run %s (%s); uploading it directly",
            self.directory,
            upload.path,
            upload.run_id,
            exc.strerror or exc,
        )
        return direct

    def _hold(self, key: Path, direct: _Direct) -> None:
        with self._lock:
            self._direct.setdefault(key, []).append(direct)

    def _take_direct(self, key: Path) -> _Direct | None:
        with self._lock:
            waiting = self._direct.get(key)
            return waiting[0] if waiting else None

    def _send_direct(self, direct: _Direct, send_upload: SendUpload) -> bool:
        """Upload from where the file is; False if it is gone; raises (and keeps it) when
        sending fails."""
        try:
            changed = _identity(direct.upload.data.stat()) != direct.identity
        except OSError as exc:
            _log.error(
                "file %r of run %s was NOT uploaded: %s is gone (%s) and the spool could "
                "not keep a copy",
                direct.upload.path,
                direct.upload.run_id,
                direct.upload.data,
                exc.strerror or exc,
            )
            self._release(direct)
            return False
        if changed:
            _log.warning(
                "file %s changed after upload_file() was called; uploading it as it is now",
                direct.upload.data,
            )
        send_upload(direct.upload)
        self._release(direct)
        return True

    def _release(self, direct: _Direct) -> None:
        with self._lock:
            waiting = self._direct.get(direct.key, [])
            if direct in waiting:
                waiting.remove(direct)
            if not waiting:
                self._direct.pop(direct.key, None)
        if direct.temporary:
            direct.upload.data.unlink(missing_ok=True)

    def direct_pending(self) -> list[Upload]:
        """Uploads held only in this process (the spool could not take them), not yet sent."""
        with self._lock:
            return [d.upload for waiting in self._direct.values() for d in waiting]

    # --- reading -----------------------------------------------------------------------------
    def size(self) -> int:
        """Bytes held in the spool now."""
        if not self.directory.is_dir():
            return 0
        total = 0
        for entry in os.scandir(self.directory):
            with contextlib.suppress(OSError):
                if entry.is_file():
                    total += entry.stat().st_size
        return total

    def pending(self) -> list[Path]:
        """Unclaimed entries (logs requests and upload data files), oldest first."""
        if not self.directory.is_dir():
            return []
        self._reclaim_stale()
        names = sorted(p.name for p in self.directory.iterdir())
        return [
            self.directory / n
            for n in names
            if n.endswith((LOGS_SUFFIX, LEGACY_LOGS_SUFFIX, UPLOAD_SUFFIX))
            and not n.startswith(".")
        ]

    def entries(self) -> Iterator[Entry | Path]:
        """Pending entries with their destination; a corrupt one is quarantined and yielded
        as the `Path` it now has."""
        for path in self.pending():
            try:
                yield Entry(path, _destination_of(path))
            except CorruptEntryError as exc:
                moved = self.quarantine(path, exc)
                if moved is not None:
                    yield moved
            except OSError:
                continue  # claimed by another replayer meanwhile

    def destinations(self) -> dict[str | None, int]:
        """How many pending entries each destination has (None: first-format entries)."""
        counts: dict[str | None, int] = {}
        for entry in self.entries():
            if isinstance(entry, Entry):
                counts[entry.destination] = counts.get(entry.destination, 0) + 1
        return counts

    def quarantine(self, path: Path, reason: Exception | str) -> Path | None:
        """Set a corrupt entry (and an upload's header) aside in ``quarantine/``; warn."""
        folder = self.directory / QUARANTINE_DIR
        try:
            folder.mkdir(exist_ok=True)
            target = folder / path.name
            os.replace(path, target)
            if path.name.endswith(UPLOAD_SUFFIX) and _meta_path(path).exists():
                os.replace(_meta_path(path), folder / _meta_path(path).name)
        except OSError as exc:
            _log.error(
                "runlog spool entry %s is corrupt (%s) and cannot be moved: %s", path, reason, exc
            )
            return None
        _log.warning(
            "runlog spool entry %s is corrupt (%s); moved it to %s and went on with the rest",
            path.name,
            reason,
            target,
        )
        return target

    def _reclaim_stale(self) -> None:
        for path in self.directory.glob(f"*{INFLIGHT}*"):
            pid_text = path.name.rsplit(INFLIGHT, 1)[1]
            try:
                if pid_text.isdigit() and _owner_gone(int(pid_text), path.stat().st_ctime):
                    os.replace(path, path.with_name(path.name.rsplit(INFLIGHT, 1)[0]))
            except OSError:
                continue  # another replayer took it back first
        self._clear_dead_writes()

    def _clear_dead_writes(self) -> None:
        """Remove what a writer that died mid-entry left: hidden temporaries, and upload
        headers whose data never arrived (set aside in quarantine/)."""
        for path in self.directory.iterdir():
            name = path.name
            hidden = name.startswith(".") and name.endswith(".tmp")
            orphan = name.endswith(META_SUFFIX) and not self._has_data(path)
            if not (hidden or orphan) or not _writer_gone(name.lstrip("."), path):
                continue
            if hidden:
                path.unlink(missing_ok=True)
            elif not self._has_data(path):  # look again: the writer may just have finished
                self.quarantine(path, "an upload header whose data never arrived")

    def _has_data(self, meta: Path) -> bool:
        data = meta.name[: -len(META_SUFFIX)] + UPLOAD_SUFFIX
        return (self.directory / data).exists() or any(self.directory.glob(f"{data}{INFLIGHT}*"))

    def replay(
        self,
        send_logs: SendLogs,
        send_upload: SendUpload,
        accept: Callable[[str | None], bool] | None = None,
    ) -> ReplayResult:
        """Send pending entries meant for this spool's destination, in order.

        Stops at the first failure (the collector is down); a corrupt entry is quarantined
        and the replay goes on. *send_logs* / *send_upload* raise on failure; the entry
        then stays in the spool.

        Args:
            send_logs: sends one logs request body.
            send_upload: sends one upload.
            accept: which destinations to send (default: those of the same collector as
                this spool's destination).
        """
        wanted = accept or (lambda d: d is not None and same_collector(d, self.destination))
        result = ReplayResult()
        try:
            with self._lock:
                held = [d for waiting in self._direct.values() for d in waiting]
            for direct in held:
                result.sent += self._send_direct(direct, send_upload)
            for entry in self.entries():
                if isinstance(entry, Path):
                    result.quarantined.append(entry)
                elif wanted(entry.destination) and not self._replay_entry(
                    entry.path, send_logs, send_upload, result
                ):
                    break
        except Exception as exc:  # a direct upload failed: the collector is down
            result.failed += 1
            result.error = str(exc)
        result.left = sum(
            1 for e in self.entries() if isinstance(e, Entry) and wanted(e.destination)
        )
        return result

    def _replay_entry(
        self, path: Path, send_logs: SendLogs, send_upload: SendUpload, result: ReplayResult
    ) -> bool:
        try:
            if self.replay_one(path, send_logs, send_upload):
                result.sent += 1
        except CorruptEntryError:
            result.quarantined.append(self.directory / QUARANTINE_DIR / path.name)
        except ReplayStopped as exc:  # the entry stays; the sender knows why
            result.failed += 1
            result.error = str(exc)
            return False
        except Exception as exc:  # the entry stays for the next replay
            result.failed += 1
            result.error = str(exc)
            _log.warning("spool replay of %s stopped: %s", path.name, exc)
            return False
        return True

    def replay_one(self, entry: Path, send_logs: SendLogs, send_upload: SendUpload) -> bool:
        """Send one entry now; False if another process had claimed it. Raises on failure.

        An upload still being staged is waited for; one the spool could not take is sent
        from where it is. A corrupt entry is quarantined and `CorruptEntryError` raised.
        """
        with self._lock:
            staging = self._staging.get(entry)
        if staging is not None:
            staging.wait()
        direct = self._take_direct(entry)
        if direct is not None:
            return self._send_direct(direct, send_upload)
        if entry.parent != self.directory:
            return False  # never claim (rename) a file outside the spool
        claimed = _claim(entry)
        if claimed is None:
            return False
        try:
            _send(claimed, entry, send_logs, send_upload)
        except CorruptEntryError as exc:
            os.replace(claimed, entry)
            self.quarantine(entry, exc)
            raise
        except BaseException:
            os.replace(claimed, entry)
            raise
        _delete(claimed, entry)
        return True


# --- helpers ---------------------------------------------------------------------------------


def _normalise(endpoint: str) -> str:
    from runlog._config import check_endpoint

    return check_endpoint(endpoint)


def _configured() -> str:
    """The configured endpoint, or the default one if the configuration cannot be read."""
    from runlog._config import resolve
    from runlog.exceptions import ConfigError

    try:
        return resolve().endpoint
    except ConfigError:
        return c.DEFAULT_ENDPOINT


# --- `runlog sync` ---------------------------------------------------------------------------


@dataclass(slots=True)
class SyncResult:
    """What ``runlog sync`` did, per destination.

    Attributes:
        delivered: entries sent, per destination endpoint.
        undelivered: per destination that did not take its entries: (entries left, why).
        quarantined: corrupt entries set aside (their paths in ``quarantine/``).
    """

    delivered: dict[str, int] = field(default_factory=dict)
    undelivered: dict[str, tuple[int, str]] = field(default_factory=dict)
    quarantined: list[Path] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Entries sent, in all."""
        return sum(self.delivered.values())

    @property
    def failed(self) -> int:
        """Destinations that did not take their entries."""
        return len(self.undelivered)

    @property
    def left(self) -> int:
        """Entries still spooled because their collector did not take them."""
        return sum(left for left, _ in self.undelivered.values())


def sync(
    endpoint: str | None = None,
    token: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    everything: bool = False,
) -> SyncResult:
    """Send each spooled entry to the collector it was meant for (``runlog sync``).

    With *everything*, every entry goes to *endpoint*, whichever collector it names (after
    a collector moved, or when the endpoint was mistyped).

    Entries of *endpoint* (default: the configured one) are sent with *token*; entries of
    other collectors are sent there without it; first-format entries, which name no
    collector, go to *endpoint*. A collector that cannot be reached keeps its entries in
    the spool and is listed in `SyncResult.undelivered`. Data the collector refuses
    outright is logged and removed, so one bad entry cannot block the rest.
    """
    from runlog._config import resolve
    from runlog._transport import Sender

    settings = resolve(endpoint, token)
    spool = Spool(directory, destination=settings.endpoint, check=False)
    result = SyncResult()
    targets = [settings.endpoint] if everything else _targets(spool, settings.endpoint)
    for target in targets:
        mine = same_collector(target, settings.endpoint)
        sender = Sender(target, settings.token if mine else None)
        key = destination_key(target)

        def accept(destination: str | None, mine: bool = mine, key: _Key = key) -> bool:
            if destination is None or everything:
                return mine
            return destination_key(destination) == key

        try:
            replayed = spool.replay(sender.deliver_logs, sender.deliver_file, accept)
        finally:
            sender.close()
        result.quarantined += replayed.quarantined
        if replayed.sent:
            result.delivered[target] = replayed.sent
        if replayed.failed:
            result.undelivered[target] = (replayed.left, replayed.error)
    return result


def _targets(spool: Spool, configured: str) -> list[str]:
    """The destinations with pending entries, the configured one first."""
    found: dict[_Key, str] = {destination_key(configured): configured}
    for destination in spool.destinations():
        if destination is not None:
            found.setdefault(destination_key(destination), destination)
    return list(found.values())


__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMAT",
    "INFLIGHT",
    "LEGACY_LOGS_SUFFIX",
    "LOGS_SUFFIX",
    "MAGIC",
    "META_SUFFIX",
    "QUARANTINE_DIR",
    "STALE_CLAIM_SECONDS",
    "UPLOAD_SUFFIX",
    "CorruptEntryError",
    "Entry",
    "ReplayResult",
    "ReplayStopped",
    "Spool",
    "SpoolFullError",
    "SyncResult",
    "Upload",
    "decode_logs_entry",
    "default_dir",
    "destination_key",
    "encode_logs_entry",
    "listening_accepts",
    "same_collector",
    "sync",
]
