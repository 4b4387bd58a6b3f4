"""Liveness of runs: signs of life, heartbeats, and the sweep that fails silent runs.

Every list of operations that names a run is a sign of life: the first operation on each
run in a transaction *touches* it (`touch`): ``last_seen_ns`` becomes now, and a run that
was NotResponding, or Failed by the collector for silence (liveness ``lost``), is Running
again, so that its own end event, if it follows, finishes it properly. A run that its
producer completed, failed or canceled is never reopened.

Only runs whose producer sent a ``runlog.run.heartbeat`` are watched (liveness
``watched``): producers that never promised heartbeats (MLflow clients, plain OTel
programs) may be quiet for as long as they like. `sweep` marks watched live runs that have
been silent for the heartbeat timeout NotResponding, and those silent for the dead-after
time on top Failed, with the reason in the run's error and the last sign of life as end time.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa

from collectors.ops import Heartbeat, SweepSilentRuns
from collectors.store import schema
from runlog import conventions as cv

if TYPE_CHECKING:
    from collectors.store._transaction import Transaction

logger = logging.getLogger("collectors.liveness")

WATCHED: Final = "watched"
LOST: Final = "lost"
#: Statuses in which a watched run's process is expected to send heartbeats.
LIVE_STATUSES: Final = (cv.STATUS_PREPARING, cv.STATUS_RUNNING, cv.STATUS_FINALIZING)

_r = schema.runs
_p = sa.bindparam
_lost = _r.c.liveness == LOST
_revive = sa.or_(_r.c.status == cv.STATUS_NOT_RESPONDING, _lost)

#: The sign of life; parameters ``r`` (run id) and ``now`` (Unix ns).
_SEEN: Final = sa.update(_r).where(_r.c.run_id == _p("r")).values(last_seen_ns=_p("now"))
#: A NotResponding run, or one failed for silence, is Running again (parameter ``r``).
_REVIVE: Final = (
    sa.update(_r)
    .where(_r.c.run_id == _p("r"), _revive)
    .values(status=cv.STATUS_RUNNING, end_ns=None, error=sa.case((_lost, None), else_=_r.c.error))
    .values(liveness=sa.case((_lost, WATCHED), else_=_r.c.liveness))
)
_WATCH = (
    sa.update(_r).where(_r.c.run_id == _p("r"), _r.c.liveness.is_(None)).values(liveness=WATCHED)
)


def touch(tx: Transaction, run_id: str, now_ns: int) -> None:
    """Note a sign of life of *run_id*; revive it (status history too) if it went silent."""
    tx.connection.execute(_SEEN, {"r": run_id, "now": now_ns})
    if tx.connection.execute(_REVIVE, {"r": run_id}).rowcount:
        tx.record_status(run_id, cv.STATUS_RUNNING, now_ns)


def on_heartbeat(tx: Transaction, op: Heartbeat) -> str | None:
    """Watch the run from now on (the touch before this op already noted the sign of life)."""
    tx.connection.execute(_WATCH, {"r": op.run_id})
    return None


def on_sweep(tx: Transaction, op: SweepSilentRuns) -> str | None:
    """Mark silent runs NotResponding, and long-silent ones Failed."""
    silent_since = op.now_ns - op.timeout_ns
    if silent_since > op.since_ns:  # else not listening long enough to call anyone silent
        _mark_not_responding(tx, silent_since, op.timeout_ns, op.now_ns)
    dead_since = silent_since - op.dead_after_ns
    if dead_since > op.since_ns:
        error = silence_error(op.timeout_ns, op.dead_after_ns)
        _mark_failed(tx, dead_since, error, op.now_ns)
    return None


def _mark_not_responding(tx: Transaction, silent_since: int, timeout_ns: int, now: int) -> None:
    conn = tx.connection
    stalled = _ids(conn, _silent_since(silent_since), _r.c.status.in_(LIVE_STATUSES))
    if stalled:
        values = {"status": cv.STATUS_NOT_RESPONDING}
        conn.execute(sa.update(_r).where(_r.c.run_id.in_(stalled)).values(values))
        for run_id in stalled:
            tx.record_status(run_id, cv.STATUS_NOT_RESPONDING, now)
        logger.warning(
            "no sign of life for %s from %d run(s), now NotResponding: %s",
            seconds(timeout_ns),
            len(stalled),
            ", ".join(stalled[:20]),
        )


def _mark_failed(tx: Transaction, dead_since: int, error: str, now: int) -> None:
    conn = tx.connection
    dead = _ids(conn, _silent_since(dead_since), _r.c.status == cv.STATUS_NOT_RESPONDING)
    if dead:
        values = {"status": cv.STATUS_FAILED, "end_ns": _r.c.last_seen_ns, "liveness": LOST}
        conn.execute(sa.update(_r).where(_r.c.run_id.in_(dead)).values(error=error, **values))
        for run_id in dead:
            tx.record_status(run_id, cv.STATUS_FAILED, now)
        logger.warning("%d silent run(s) marked Failed: %s", len(dead), ", ".join(dead[:20]))


def _silent_since(time_ns: int) -> sa.ColumnElement[bool]:
    return sa.and_(_r.c.liveness == WATCHED, _r.c.last_seen_ns < time_ns)


def _ids(conn: sa.Connection, *where: sa.ColumnElement[bool]) -> list[str]:
    return list(conn.execute(sa.select(_r.c.run_id).where(*where).order_by(_r.c.run_id)).scalars())


def silence_error(timeout_ns: int, dead_after_ns: int) -> str:
    """The error text of a run the collector failed for silence."""
    return (
        f"no sign of life from this run's process for {seconds(timeout_ns + dead_after_ns)} "
        f"(--heartbeat-timeout {seconds(timeout_ns)}, then --dead-after "
        f"{seconds(dead_after_ns)}); it probably died. The end time is its last sign of life; "
        "data of the run arriving later (a replayed spool, say) reopens it."
    )


def seconds(ns: int) -> str:
    """``60 s``, ``1.5 s``: a duration in nanoseconds for people."""
    return f"{ns / 1e9:g} s"
