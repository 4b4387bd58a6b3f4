"""Staging files for upload off the training thread, and who owns a claimed entry."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlog import _progress
from runlog._spool_format import _CHUNK, INFLIGHT, STALE_CLAIM_SECONDS, Upload, _hasher

_log = logging.getLogger("runlog.internal")
_IDLE_SECONDS = 0.5  # a stager with nothing to do for this long ends
_FICLONE = 0x40049409  # Linux ioctl: a copy-on-write clone of a whole file (btrfs, xfs)


@dataclass(frozen=True, slots=True, eq=False)
class _Direct:
    """An upload the spool could not take, sent from where it is (*temporary*: ours)."""

    upload: Upload
    identity: tuple[int, ...]
    temporary: bool
    key: Path


class _Stager(threading.Thread):
    """Copies (or checksums) staged files off the training thread.

    Not a daemon: the interpreter waits for it at exit (before atexit's final flush), so a
    file handed to `upload_file` just before the end is still kept. It ends when it has
    nothing left to do; the spool starts a new one for the next file.
    """

    def __init__(self, lock: threading.Lock, stage: Callable[..., None]) -> None:
        """*stage* does one job; *lock* is the spool's, under which it hands out jobs."""
        super().__init__(name="runlog-spool-stager", daemon=False)
        self._lock = lock
        self._stage = stage
        self.jobs: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.finished = False  # set under the spool's lock once it takes no more jobs

    def run(self) -> None:
        while True:
            try:
                job = self.jobs.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self.jobs.empty():
                        self.finished = True
                        return
                continue
            try:
                self._stage(*job)
            except Exception:  # a bug here must not stop later staging
                _log.exception("runlog could not stage a file for upload")


def _identity(stat: os.stat_result) -> tuple[int, ...]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev


CLONED, LINKED, COPY = "cloned", "linked", "copy"


def _clone_or_link(source: Path, target: Path) -> str:
    """Clone *source* to *target* (copy-on-write: a snapshot) or hard link it (the same
    file); `COPY` when neither works (*target* then does not exist and the file is copied
    in the background)."""
    try:
        import fcntl

        with open(source, "rb") as src, open(target, "wb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        return CLONED
    except (OSError, ImportError):
        with contextlib.suppress(OSError):
            target.unlink()
    try:
        os.link(source, target)
    except OSError:
        return COPY
    return LINKED


def _hash_checked(
    source: Path, target: Path, copy: bool, label: str = ""
) -> tuple[str, tuple[int, ...]]:
    """Hash *source*, copying it to *target* if *copy* (else *target* is a link or clone);
    repeat if it changed meanwhile, so the digest matches what is kept. A long copy draws
    a progress bar named *label* on a terminal."""
    for _attempt in range(3):
        name, digest = _hasher()
        with open(source, "rb") as raw, contextlib.ExitStack() as stack:
            before = _identity(os.fstat(raw.fileno()))
            src = stack.enter_context(_progress.reading(raw, before[0], label)) if copy else raw
            dst = stack.enter_context(open(target, "wb")) if copy else None
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                if dst is not None:
                    dst.write(chunk)
            if dst is not None:
                dst.flush()
                os.fsync(dst.fileno())
            after = _identity(os.fstat(raw.fileno()))
        if before == after:
            break
    return f"{name}:{digest.hexdigest()}", after


def _owner_gone(pid: int, claimed_at: float) -> bool:
    """Whether the process that claimed an entry at *claimed_at* is gone (or its pid reused)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    except OSError:
        return False
    try:
        import psutil
    except ImportError:
        return time.time() - claimed_at > STALE_CLAIM_SECONDS
    try:
        return bool(psutil.Process(pid).create_time() > claimed_at + 1.0)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return time.time() - claimed_at > STALE_CLAIM_SECONDS


def _writer_gone(name: str, path: Path) -> bool:
    """Whether the process that wrote entry *name* (``<time_ns>-<pid>-<n>…``) is gone."""
    parts = name.split("-", 2)
    if len(parts) < 3 or not parts[1].isdigit():
        return False
    try:
        # ctime: a hard link keeps the user's old mtime, but linking sets the ctime.
        return _owner_gone(int(parts[1]), path.stat().st_ctime)
    except OSError:
        return False


def _claim(entry: Path) -> Path | None:
    """Rename *entry* to a name of this process; None if another process got it first."""
    claimed = entry.with_name(f"{entry.name}{INFLIGHT}{os.getpid()}")
    try:
        os.rename(entry, claimed)
    except OSError:
        return None
    return claimed
