"""Moved to the public `runlog.spool` (the spool's documented format); kept for old imports."""

from runlog.spool import (
    DEFAULT_MAX_BYTES,
    INFLIGHT,
    LOGS_SUFFIX,
    META_SUFFIX,
    STALE_CLAIM_SECONDS,
    UPLOAD_SUFFIX,
    ReplayResult,
    Spool,
    SpoolFullError,
    SyncResult,
    Upload,
    default_dir,
    sync,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "INFLIGHT",
    "LOGS_SUFFIX",
    "META_SUFFIX",
    "STALE_CLAIM_SECONDS",
    "UPLOAD_SUFFIX",
    "ReplayResult",
    "Spool",
    "SpoolFullError",
    "SyncResult",
    "Upload",
    "default_dir",
    "sync",
]
