"""Applying `RecordFile`: a run file's path, size and digest (its bytes are in the file store).

An upload through the collector replaces the record of its path; a producer's
``runlog.file`` event only adds a record that is missing, and is refused when it
contradicts the one there (the bytes the collector measured win over a claim).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from collectors.ops import RecordFile
from collectors.store import schema

if TYPE_CHECKING:
    from collectors.store._transaction import Transaction

_f = schema.files
_p = sa.bindparam
_WHERE = (_f.c.run_id == _p("r"), _f.c.path == _p("p"))
_STORED = sa.select(_f.c.size, _f.c.sha256).where(*_WHERE)
_UPDATE = sa.update(_f).where(*_WHERE).values(size=_p("s"), sha256=_p("d"), created_ns=_p("t"))


def on_record_file(tx: Transaction, op: RecordFile) -> str | None:
    """Insert or (for an upload) replace the file's record."""
    error = tx.ensure_run(op.run_id, op.experiment, op.time_ns)
    if error is not None:
        return error
    conn = tx.connection
    params = {"r": op.run_id, "p": op.path, "s": op.size, "d": op.sha256, "t": op.time_ns}
    if not op.replace:
        stored = conn.execute(_STORED, params).first()
        if stored is not None:
            return _contradiction(op, stored.size, stored.sha256)
    if op.replace and conn.execute(_UPDATE, params).rowcount:
        return None
    row = {"run_id": op.run_id, "path": op.path, "size": op.size, "sha256": op.sha256}
    conn.execute(sa.insert(_f), {**row, "created_ns": op.time_ns})
    return None


def _contradiction(op: RecordFile, size: int, sha256: str) -> str | None:
    if (size, sha256) == (op.size, op.sha256):
        return None  # the event repeats what the upload recorded
    return (
        f"run {op.run_id!r}: file {op.path!r} is recorded with {size} bytes, sha256 "
        f"{sha256[:16]}…; the file event says {op.size} bytes, sha256 {op.sha256[:16]}…. "
        "Upload the file to the files endpoint to replace it"
    )
