"""Replay a client's disk spool straight into this collector (``--replay-spool``).

The client (`runlog._spool`) keeps serialised logs requests and staged uploads while the
collector is unreachable; normally the client replays them itself. A collector started
with ``--replay-spool`` takes them in directly, without HTTP. Logs requests carry batch
ids, so an entry that was already kept is skipped by the store.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from collectors.ingest import Ingestor
from collectors.run_files import Uploads

logger = logging.getLogger(__name__)


def replay_spool(spool_dir: Path, ingestor: Ingestor, uploads: Uploads) -> None:
    """Ingest every pending entry of *spool_dir*; log (never raise) what went wrong."""
    try:
        from runlog import _spool
    except ImportError:  # pragma: no cover - the client package is part of this repository
        logger.warning("runlog._spool is not importable; not replaying %s", spool_dir)
        return
    spool: Any = _spool.Spool(spool_dir)
    try:
        result = spool.replay(
            lambda body: ingestor.ingest_request_bytes("logs", body),
            lambda upload: ingest_upload(upload, uploads),
        )
    except Exception:
        logger.exception("replaying the spool %s failed", spool_dir)
        return
    logger.info(
        "replayed spool %s: %d sent, %d failed, %d left",
        spool_dir,
        result.sent,
        result.failed,
        result.left,
    )


def ingest_upload(upload: Any, uploads: Uploads) -> None:
    """Store one spooled upload (``data``, ``run_id``, ``experiment``, ``path``)."""
    with open(upload.data, "rb") as source:
        uploads.copy(source, upload.run_id, upload.path, upload.experiment)


__all__ = ["ingest_upload", "replay_spool"]
