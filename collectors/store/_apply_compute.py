"""Applying the operations of submitted runs: snapshots, the queue and the lifecycle.

Handlers take the `Transaction` and one operation and return an error message or None, like
the `Transaction`'s own ``on_*`` methods. The queue's rules hold inside the transaction, so
two workers (or a worker and a cancel) can never both take the same run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from collectors.ops import (
    AddSnapshot,
    AdvanceStatus,
    CancelRun,
    ClaimRun,
    SubmitRun,
    UpdateSubmission,
)
from collectors.store import schema
from collectors.store.protocols import ACTIVE, DONE, QUEUED
from runlog import conventions as cv

if TYPE_CHECKING:
    from collectors.store._transaction import Transaction

_s, _snap, _r = schema.submissions, schema.snapshots, schema.runs
#: How far along its lifecycle each status is; a submitted run only moves forward.
STAGE: Final = {
    cv.STATUS_NOT_STARTED: 0,
    cv.STATUS_QUEUED: 1,
    cv.STATUS_PREPARING: 2,
    cv.STATUS_RUNNING: 3,
    cv.STATUS_NOT_RESPONDING: 3,
    cv.STATUS_FINALIZING: 4,
    **{status: 5 for status in cv.TERMINAL_STATUSES},
}


def _state(tx: Transaction, run_id: str) -> str | None:
    found = tx.connection.execute(sa.select(_s.c.state).where(_s.c.run_id == run_id)).scalar()
    return None if found is None else str(found)


def on_add_snapshot(tx: Transaction, op: AddSnapshot) -> str | None:
    conn = tx.connection
    if conn.execute(sa.select(_snap.c.digest).where(_snap.c.digest == op.digest)).first():
        return None
    row = {"digest": op.digest, "size": op.size, "file_count": op.file_count}
    conn.execute(sa.insert(_snap).values(created_ns=op.time_ns, **row))
    return None


def on_submit_run(tx: Transaction, op: SubmitRun) -> str | None:
    conn = tx.connection
    if not cv.is_valid_run_id(op.run_id):
        return f"invalid run id {op.run_id!r}: expected 1-64 characters of [A-Za-z0-9_.-]"
    if tx.status_of(op.run_id) is not None:
        return f"run {op.run_id!r} already exists; submit with another run id"
    if conn.execute(sa.select(_snap.c.digest).where(_snap.c.digest == op.snapshot)).first() is None:
        return f"snapshot {op.snapshot!r} is unknown; upload it before submitting"
    problem = cv.check_name("experiment name", op.experiment)
    if problem is not None:
        return problem
    row = {
        "run_id": op.run_id,
        "experiment_id": tx.experiment_id(op.experiment, op.time_ns),
        "name": op.name,
        "status": cv.STATUS_NOT_STARTED,
        "start_ns": op.time_ns,
    }
    conn.execute(sa.insert(_r), row)
    tx.record_status(op.run_id, cv.STATUS_NOT_STARTED, op.time_ns)
    tx.set_status(op.run_id, cv.STATUS_QUEUED, op.time_ns, None)
    seq = conn.execute(sa.select(sa.func.coalesce(sa.func.max(_s.c.seq), 0))).scalar()
    submission = {
        "run_id": op.run_id,
        "seq": int(seq or 0) + 1,
        "collector": op.collector,
        "target": op.target,
        "snapshot": op.snapshot,
        "script": op.script,
        "arguments": json.dumps(list(op.arguments)),
        "environment": op.environment,
        "state": QUEUED,
        "queued_ns": op.time_ns,
    }
    conn.execute(sa.insert(_s), submission)
    return None


def on_claim_run(tx: Transaction, op: ClaimRun) -> str | None:
    where = sa.and_(_s.c.run_id == op.run_id, _s.c.state == QUEUED)
    claimed = sa.update(_s).where(where).values(state=ACTIVE, claimed_ns=op.time_ns)
    if not tx.connection.execute(claimed).rowcount:
        return f"run {op.run_id!r} is no longer queued"
    tx.set_status(op.run_id, cv.STATUS_PREPARING, op.time_ns, None)
    return None


def on_update_submission(tx: Transaction, op: UpdateSubmission) -> str | None:
    fields = ("pid", "pid_start", "job_id", "log_offset")
    values = {name: getattr(op, name) for name in fields if getattr(op, name) is not None}
    if values:
        tx.connection.execute(sa.update(_s).where(_s.c.run_id == op.run_id).values(values))
    return None


def on_cancel_run(tx: Transaction, op: CancelRun) -> str | None:
    state = _state(tx, op.run_id)
    if state is None:
        return f"run {op.run_id!r} was not submitted to a compute target"
    if state == DONE:
        return f"run {op.run_id!r} has already finished ({tx.status_of(op.run_id)})"
    where = _s.c.run_id == op.run_id
    if state == QUEUED:
        done = sa.update(_s).where(where).values(state=DONE, cancel_ns=op.time_ns)
        tx.connection.execute(done.values(done_ns=op.time_ns))
        tx.set_status(op.run_id, cv.STATUS_CANCELED, op.time_ns, "canceled while queued")
    else:
        tx.connection.execute(sa.update(_s).where(where).values(cancel_ns=op.time_ns))
    return None


def on_advance_status(tx: Transaction, op: AdvanceStatus) -> str | None:
    current = tx.status_of(op.run_id)
    if current is None:
        return f"run {op.run_id!r} does not exist"
    if op.status not in STAGE:
        return f"run {op.run_id!r}: unknown status {op.status!r}"
    if STAGE[op.status] > STAGE.get(current, 0):
        tx.set_status(op.run_id, op.status, op.time_ns, op.error)
    if op.done:
        done = sa.update(_s).where(_s.c.run_id == op.run_id, _s.c.state != DONE)
        tx.connection.execute(done.values(state=DONE, done_ns=op.time_ns))
    return None


HANDLERS: dict[type, Callable[[Transaction, Any], str | None]] = {
    AddSnapshot: on_add_snapshot,
    SubmitRun: on_submit_run,
    ClaimRun: on_claim_run,
    UpdateSubmission: on_update_submission,
    CancelRun: on_cancel_run,
    AdvanceStatus: on_advance_status,
}
