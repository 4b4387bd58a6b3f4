"""The spool's on-disk format (docs/spool.md): names, entries, destinations, digests.

Public names are re-exported by `runlog.spool`; read that module's docstring first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from runlog import conventions as c

_log = logging.getLogger("runlog.internal")

#: The first bytes of a logs entry (format 2).
MAGIC = b"RUNLOG-SPOOL 2\n"
FORMAT = 2
LOGS_SUFFIX = ".logs"
LEGACY_LOGS_SUFFIX = ".logs.pb"
UPLOAD_SUFFIX = ".upload"
META_SUFFIX = ".upload.json"
INFLIGHT = ".inflight-"
QUARANTINE_DIR = "quarantine"
#: A claim by a live process is taken back after this long only when psutil is missing
#: (then a pid cannot be told from a reused one).
STALE_CLAIM_SECONDS = 600
DEFAULT_MAX_BYTES = 2 * 1024**3
_CHUNK = 1024 * 1024
_MAX_HEADER = 64 * 1024


def default_dir() -> Path:
    """``RUNLOG_SPOOL_DIR``, else ``~/.runlog/spool``."""
    configured = os.environ.get(c.ENV_SPOOL_DIR)
    return Path(configured) if configured else Path.home() / ".runlog" / "spool"


# --- destinations --------------------------------------------------------------------------


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


_Key = tuple[str, str, int, str]


def destination_key(endpoint: str) -> _Key:
    """What identifies a collector: scheme, host (all loopback names are one), port, path."""
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, "loopback" if _loopback(host) else host, port, parts.path.rstrip("/")


def same_collector(a: str, b: str) -> bool:
    """Whether endpoints *a* and *b* name the same collector (``localhost`` = ``127.0.0.1``)."""
    return destination_key(a) == destination_key(b)


def listening_accepts(host: str, port: int) -> Callable[[str | None], bool]:
    """For a collector listening on *host*:*port*: which destinations are its own.

    Loopback names always are; a collector on ``0.0.0.0`` or ``::`` also owns this
    machine's host name. Entries without a destination (the first format) are not.
    """
    own = {"loopback", host.lower()}
    if host in ("0.0.0.0", "::", ""):
        own |= {socket.gethostname().lower(), socket.getfqdn().lower()}

    def accept(destination: str | None) -> bool:
        if destination is None:
            return False
        scheme, name, dest_port, path = destination_key(destination)
        return scheme == "http" and dest_port == port and name in own and not path

    return accept


# --- entries ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    """A spooled file upload."""

    data: Path
    run_id: str
    experiment: str
    path: str


#: Sends one logs entry's OTLP request body on replay; raises when it could not.
SendLogs: TypeAlias = Callable[[bytes], object]
#: Sends one spooled upload on replay; raises when it could not.
SendUpload: TypeAlias = Callable[[Upload], object]


class SpoolFullError(OSError):
    """The spool has reached its size limit."""


class CorruptEntryError(ValueError):
    """A spool entry is torn or damaged (its header, size or checksum does not match)."""


class ReplayStopped(Exception):
    """A sender stopped the replay on purpose (its process is exiting and has handed its
    data over): the entry stays in the spool, and that is not worth a warning."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One pending entry as found on disk (a logs request or an upload's data file)."""

    path: Path
    destination: str | None

    @property
    def is_upload(self) -> bool:
        """Whether this is a file upload (else a logs request)."""
        return self.path.name.endswith(UPLOAD_SUFFIX)


def encode_logs_entry(body: bytes, destination: str) -> bytes:
    """The bytes of a logs entry: MAGIC, one JSON header line, *body*."""
    header = {"destination": destination, "size": len(body), "digest": _digest_of(body)}
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + body


def decode_logs_entry(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """Split a logs entry into its header and body, checking size and checksum.

    Raises:
        CorruptEntryError: the header is missing or does not parse, or the body's size or
            SHA-256 is not what the header says.
    """
    if not raw.startswith(MAGIC):
        raise CorruptEntryError("it does not start with the spool's magic line")
    end = raw.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if end < 0:
        raise CorruptEntryError("its header line is torn")
    try:
        header = json.loads(raw[len(MAGIC) : end])
        size, digest = int(header["size"]), str(header["digest"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntryError(f"its header does not parse ({exc})") from exc
    body = raw[end + 1 :]
    if len(body) != size:
        raise CorruptEntryError(f"it holds {len(body)} bytes where its header says {size}")
    if not _matches(digest, lambda h: h.update(body)):
        raise CorruptEntryError("its checksum does not match (damaged on disk)")
    return header, body


def _hasher(name: str | None = None) -> tuple[str, Any]:
    """A new hash object: xxh3-128 where xxhash is installed (fast), else SHA-256."""
    if name in (None, "xxh3_128"):
        try:
            import xxhash

            return "xxh3_128", xxhash.xxh3_128()
        except ImportError:
            if name is not None:
                raise
    return "sha256", hashlib.sha256()


def _digest_of(data: bytes) -> str:
    name, digest = _hasher()
    digest.update(data)
    return f"{name}:{digest.hexdigest()}"


def _hash_file(digest: Any, path: Path) -> None:
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)


def _matches(expected: str, feed: Callable[[Any], None]) -> bool:
    """Whether what *feed* hashes has the digest *expected* (``<algorithm>:<hex>``).

    An entry written with xxh3-128 where this process has no xxhash cannot be checked
    here; it is sent unchecked (the collector checks batch ids and content digests).
    """
    name, _, value = expected.partition(":")
    if name not in ("xxh3_128", "sha256"):
        return False
    try:
        _, digest = _hasher(name)
    except ImportError:
        return True
    feed(digest)
    return bool(digest.hexdigest() == value)


def _meta_path(entry: Path) -> Path:
    return entry.with_name(entry.name[: -len(UPLOAD_SUFFIX)] + META_SUFFIX)


def _read_meta(entry: Path) -> dict[str, Any]:
    try:
        meta = json.loads(_meta_path(entry).read_bytes())
    except FileNotFoundError as exc:
        raise CorruptEntryError("its header file is missing") from exc
    except ValueError as exc:
        raise CorruptEntryError(f"its header does not parse ({exc})") from exc
    if not isinstance(meta, dict) or not all(
        isinstance(meta.get(k), str) for k in ("run_id", "path")
    ):
        raise CorruptEntryError("its header lacks run_id or path")
    return meta


def _destination_of(path: Path) -> str | None:
    if path.name.endswith(LEGACY_LOGS_SUFFIX):
        return None
    if path.name.endswith(UPLOAD_SUFFIX):
        destination = _read_meta(path).get("destination")
        return str(destination) if destination else None
    with open(path, "rb") as stream:
        head = stream.read(4096)  # a header is ~150 bytes; the body is not read here
        end = head.find(b"\n", len(MAGIC))
        if end < 0:
            head += stream.read(len(MAGIC) + _MAX_HEADER - len(head))
            end = head.find(b"\n", len(MAGIC))
    if not head.startswith(MAGIC) or end < 0:
        raise CorruptEntryError("its header is missing or torn")
    try:
        return str(json.loads(head[len(MAGIC) : end])["destination"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntryError(f"its header does not parse ({exc})") from exc


def _read_upload(data: Path, entry: Path) -> Upload:
    meta = _read_meta(entry)
    if meta.get("format") == FORMAT:
        _check_upload(data, meta)
    experiment = str(meta.get("experiment", c.DEFAULT_EXPERIMENT))
    return Upload(data, meta["run_id"], experiment, meta["path"])


def _check_upload(data: Path, meta: dict[str, Any]) -> None:
    """Raise `CorruptEntryError` unless *data* is what its header says.

    A hard link shares the user's file: if the user changed that file in place after
    staging, the change is theirs, not damage; it is uploaded as it is now, with a warning.
    """
    stat = data.stat()
    if meta.get("linked") and (stat.st_size, stat.st_mtime_ns) != (
        meta.get("size"),
        meta.get("mtime_ns"),
    ):
        _log.warning(
            "file %r of run %s changed after upload_file() was called; uploading it as it is now",
            meta["path"],
            meta["run_id"],
        )
        return
    if stat.st_size != meta.get("size"):
        raise CorruptEntryError(
            f"it holds {stat.st_size} bytes where its header says {meta.get('size')}"
        )
    if not _matches(str(meta.get("digest")), lambda h: _hash_file(h, data)):
        raise CorruptEntryError("its checksum does not match (damaged on disk)")


def _send(claimed: Path, entry: Path, send_logs: SendLogs, send_upload: SendUpload) -> None:
    if entry.name.endswith(LEGACY_LOGS_SUFFIX):
        send_logs(claimed.read_bytes())
    elif entry.name.endswith(LOGS_SUFFIX):
        send_logs(decode_logs_entry(claimed.read_bytes())[1])
    else:
        send_upload(_read_upload(claimed, entry))


def _delete(claimed: Path, entry: Path) -> None:
    claimed.unlink(missing_ok=True)
    if entry.name.endswith(UPLOAD_SUFFIX):
        _meta_path(entry).unlink(missing_ok=True)
