"""Reads of submitted runs: status histories, snapshots, the queues of compute targets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from collectors.store import schema
from collectors.store._rows import from_row
from collectors.store.base import StatusChange, SubmissionInfo

_s, _r, _e, _st = schema.submissions, schema.runs, schema.experiments, schema.run_statuses
# Labelled so that each row's names are `SubmissionInfo`'s fields.
_SUBMISSIONS = sa.select(
    _s, _r.c.status.label("status"), _r.c.name.label("name"), _e.c.name.label("experiment")
).select_from(_s.join(_r, _r.c.run_id == _s.c.run_id).join(_e, _e.c.id == _r.c.experiment_id))


def _submission(row: Any) -> SubmissionInfo:
    arguments = list(json.loads(row.arguments))
    environment = dict(json.loads(row.environment))
    return from_row(SubmissionInfo, row._mapping, arguments=arguments, environment=environment)


def submission(conn: sa.Connection, run_id: str) -> SubmissionInfo | None:
    row = conn.execute(_SUBMISSIONS.where(_s.c.run_id == run_id)).first()
    return None if row is None else _submission(row)


def submissions(
    conn: sa.Connection,
    states: Sequence[str],
    target: str | None,
    collector: str | None,
    limit: int | None,
    newest_first: bool = False,
) -> list[SubmissionInfo]:
    order = _s.c.seq.desc() if newest_first else _s.c.seq
    query = _SUBMISSIONS.where(_s.c.state.in_(list(states))).order_by(order)
    if target is not None:
        query = query.where(_s.c.target == target)
    if collector is not None:
        query = query.where(_s.c.collector == collector)
    if limit is not None:
        query = query.limit(limit)
    return [_submission(row) for row in conn.execute(query)]


def status_history(conn: sa.Connection, run_id: str) -> list[StatusChange]:
    query = sa.select(_st.c.status, _st.c.time_ns).where(_st.c.run_id == run_id)
    return [StatusChange(*row) for row in conn.execute(query.order_by(_st.c.seq))]


def has_snapshot(conn: sa.Connection, digest: str) -> bool:
    found = conn.execute(
        sa.select(schema.snapshots.c.digest).where(schema.snapshots.c.digest == digest)
    )
    return found.first() is not None
