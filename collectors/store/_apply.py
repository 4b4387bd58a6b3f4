"""Applying lists of store operations inside one database transaction.

`apply` turns one list of `collectors.ops` values into SQL through a `Transaction`: it
skips a list whose batch id was applied before, notes each run's sign of life, and hands
every operation to its handler. Refused operations (a param set to a different value, a
metric kind conflict, malformed points) become messages in `Applied.errors`; anything the
database raises propagates so the caller's transaction rolls back as a whole.

This module is the only one that knows every handler; the handler modules import
`collectors.store._transaction`, never this one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from collectors.ops import (
    AppendLogLines,
    AppendPoints,
    AppendSpans,
    Applied,
    DeleteTag,
    EnsureRun,
    Heartbeat,
    MarkBatch,
    Op,
    RecordFile,
    SetParam,
    SetProperty,
    SetStatus,
    SetTag,
    SweepSilentRuns,
)
from collectors.store import _apply_compute, _apply_mlflow, _files, _liveness, schema
from collectors.store._transaction import Transaction

_batches = schema.batches
_SEEN_BATCH = sa.select(_batches.c.batch_id, _batches.c.digest).where(
    _batches.c.batch_id.in_(sa.bindparam("ids", expanding=True))
)


def apply(tx: Transaction, ops: Sequence[Op]) -> Applied:
    """Apply one list on *tx*, unless it carries a batch id applied before.

    The first operation on each run in the transaction also notes a sign of life
    (`_liveness.touch`).
    """
    now = tx.now_ns()
    marks = {op.batch_id: op.digest for op in ops if isinstance(op, MarkBatch)}
    if marks:
        seen = _seen_batch(tx.connection, marks)
        if seen is not None:
            return seen
        rows = [
            {"batch_id": batch_id, "applied_ns": now, "digest": marks[batch_id]}
            for batch_id in sorted(marks)
        ]
        tx.connection.execute(sa.insert(_batches), rows)
    applied = Applied()
    for op in ops:
        run_id = getattr(op, "run_id", None)
        if run_id is not None and run_id not in tx.touched:
            tx.touched.add(run_id)
            _liveness.touch(tx, run_id, now)
        error = _HANDLERS[type(op)](tx, op)
        if error is not None:
            applied.errors.append(error)
    return applied


def _seen_batch(conn: sa.Connection, marks: dict[str, str | None]) -> Applied | None:
    """`Applied` for a list whose batch id was applied before (a replay or a conflict)."""
    rows = conn.execute(_SEEN_BATCH, {"ids": list(marks)}).all()
    for batch_id, digest in rows:
        new = marks[batch_id]
        if digest is not None and new is not None and digest != new:
            return Applied(
                conflict=f"batch id {batch_id!r} was already used for a request with "
                "other content; nothing of this request was kept. Give every request "
                "its own batch id (a replay must send the same request again)"
            )
    return Applied(duplicate=True) if rows else None


def _on_mark_batch(tx: Transaction, op: MarkBatch) -> str | None:
    return None  # handled in apply()


_HANDLERS: dict[type, Callable[[Transaction, Any], str | None]] = {
    EnsureRun: Transaction.on_ensure_run,
    SetStatus: Transaction.on_set_status,
    SetTag: Transaction.on_set_tag,
    DeleteTag: Transaction.on_delete_tag,
    SetParam: Transaction.on_set_param,
    SetProperty: Transaction.on_set_property,
    AppendPoints: Transaction.on_append_points,
    AppendLogLines: Transaction.on_append_log_lines,
    AppendSpans: Transaction.on_append_spans,
    MarkBatch: _on_mark_batch,
    Heartbeat: _liveness.on_heartbeat,
    SweepSilentRuns: _liveness.on_sweep,
    RecordFile: _files.on_record_file,
    **_apply_mlflow.HANDLERS,
    **_apply_compute.HANDLERS,
}
