"""Replay a client's disk spool straight into this collector (``--replay-spool``).

The client keeps serialised logs requests and staged uploads in its spool (`runlog.spool`,
format in docs/spool.md) while the collector is unreachable; normally the client replays
them itself. A collector started with ``--replay-spool`` takes in directly, without HTTP,
the entries meant for it, and only those: each entry names the collector it was written
for, and entries of other collectors stay for them (or for ``runlog sync``). Logs requests
carry batch ids, so an entry that was already kept is skipped by the store; corrupt
entries are set aside in the spool's ``quarantine/`` folder with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from collectors.read.run_files import Uploads
from collectors.receive.ingest import Ingestor
from runlog.spool import Spool, Upload, listening_accepts, same_collector

logger = logging.getLogger(__name__)


def replay_spool(
    spool_dir: Path,
    ingestor: Ingestor,
    uploads: Uploads,
    endpoint: str | None = None,
    listening: tuple[str, int] | None = None,
) -> None:
    """Ingest the pending entries of *spool_dir* meant for this collector; never raise.

    Args:
        spool_dir: the spool directory.
        ingestor: takes logs requests.
        uploads: stores files.
        endpoint: take the entries written for this endpoint (a run launched by this
            collector was given it).
        listening: or take the entries of the collector listening on (host, port).
    """
    accept = _acceptor(endpoint, listening)
    spool = Spool(spool_dir, destination=endpoint, check=False)
    try:
        result = spool.replay(
            lambda body: ingestor.ingest_request_bytes("logs", body),
            lambda upload: ingest_upload(upload, uploads),
            accept,
        )
    except Exception:
        logger.exception("replaying the spool %s failed", spool_dir)
        return
    logger.info(
        "replayed spool %s: %d sent, %d failed, %d left, %d quarantined",
        spool_dir,
        result.sent,
        result.failed,
        result.left,
        len(result.quarantined),
    )


def _acceptor(
    endpoint: str | None, listening: tuple[str, int] | None
) -> Callable[[str | None], bool]:
    if listening is not None:
        return listening_accepts(*listening)
    if endpoint is None:
        raise ValueError("replay_spool needs the collector's endpoint or listening address")
    return lambda destination: destination is not None and same_collector(destination, endpoint)


def ingest_upload(upload: Upload, uploads: Uploads) -> None:
    """Store one spooled upload (``data``, ``run_id``, ``experiment``, ``path``)."""
    with open(upload.data, "rb") as source:
        uploads.copy(source, upload.run_id, upload.path, upload.experiment)


__all__ = ["ingest_upload", "replay_spool"]
