"""`Transaction`: the state of one database transaction that applies store operations.

It owns the connection, the caches of runs, experiments and metrics a transaction has
looked up, and the buffers written by `Transaction.finish`: metric points are buffered per
metric and written as chunks there, so many small appends in one transaction rewrite a chunk
only once; log lines and spans are buffered too and written there in one executemany each
(`collectors.store._logs`). Automatic steps (`INT64_MIN`) are resolved as points are
buffered, against the column's summary, which already counts the points buffered before
them (see `collectors.store._points`).

It also applies the core operations (runs, tags, params, properties, points, log lines and
spans) through its ``on_*`` methods; `collectors.store._apply` dispatches each operation to
one of them or to a handler module (``_apply_mlflow``, ``_apply_compute``, ``_files``,
``_liveness``), all of which import this module and never the dispatcher, so imports flow
one way. Refused operations return a message; anything the database raises propagates so
the caller's transaction rolls back as a whole.

Statements are built once at import; executing them with parameter dicts avoids
SQLAlchemy's per-call construction cost, which dominates when a transaction touches many runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from collectors.ops import (
    AppendLogLines,
    AppendPoints,
    AppendSpans,
    DeleteTag,
    EnsureRun,
    SetParam,
    SetProperty,
    SetStatus,
    SetTag,
)
from collectors.store import chunks, schema
from collectors.store._logs import LogWriter
from collectors.store._points import (
    Metric,
    Part,
    add_part,
    chunk_rows,
    merge_runs,
    summary_values,
    validated_part,
)
from collectors.store._search import metric_summary
from collectors.store.chunks import CHUNK_POINTS
from runlog import conventions as cv

_runs, _experiments, _metrics = schema.runs, schema.experiments, schema.metrics
_chunks = schema.metric_chunks
_p = sa.bindparam

_RUN_EXISTS = sa.select(_runs.c.run_id).where(_runs.c.run_id == _p("r"))
_statuses = schema.run_statuses
_RUN_STATUS = sa.select(_runs.c.status).where(_runs.c.run_id == _p("r"))
_LAST_STATUS_SEQ = sa.select(sa.func.coalesce(sa.func.max(_statuses.c.seq), 0)).where(
    _statuses.c.run_id == _p("r")
)
_EXPERIMENT_ID = sa.select(_experiments.c.id).where(_experiments.c.name == _p("n"))
_FILL_RUN = {
    column: sa.update(_runs)
    .where(_runs.c.run_id == _p("r"), _runs.c[column].is_(None))
    .values({column: _p("v")})
    for column in ("name", "parent_id")
}
_SET_STATUS = (
    sa.update(_runs)
    .where(_runs.c.run_id == _p("r"))
    .values(status=_p("s"), end_ns=_p("e"), error=_p("x"))
)
# A finished run is no longer watched for silence (see collectors.store._liveness).
_END_RUN = _SET_STATUS.values(liveness=None)
_METRIC_FAMILY = sa.select(_metrics).where(_metrics.c.run_id == _p("r"), _metrics.c.name == _p("n"))
_TAIL = (
    sa.select(_chunks.c.seq, _chunks.c.n, _chunks.c.dtype)
    .where(_chunks.c.metric_id == _p("i"))
    .order_by(_chunks.c.seq.desc())
    .limit(1)
)
_CHUNK_WHERE = (_chunks.c.metric_id == _p("i"), _chunks.c.seq == _p("s"))
_READ_CHUNK = sa.select(_chunks.c.steps, _chunks.c.times, _chunks.c["values"]).where(*_CHUNK_WHERE)
_DELETE_CHUNK = sa.delete(_chunks).where(*_CHUNK_WHERE)
_SUMMARY_COLUMNS = tuple(summary_values(Metric(id=0, kind="")))
_UPDATE_SUMMARY = (
    sa.update(_metrics)
    .where(_metrics.c.id == _p("metric_id"))
    .values({column: _p(f"v_{column}") for column in _SUMMARY_COLUMNS})
)


def _key_value_statements(table: sa.Table) -> dict[str, Any]:
    where = (table.c.run_id == _p("r"), table.c.key == _p("k"))
    return {
        "select": sa.select(table.c.value).where(*where),
        "update": sa.update(table).where(*where).values(value=_p("v")),
        "delete": sa.delete(table).where(*where),
        "insert": sa.insert(table),
    }


_KV = {t.name: _key_value_statements(t) for t in (schema.tags, schema.params, schema.properties)}


class Transaction:
    """Applies operation lists on *conn*, which must be inside a transaction."""

    def __init__(self, conn: sa.Connection, now_ns: Callable[[], int] = time.time_ns) -> None:
        self._conn = conn
        #: The clock: Unix ns (a parameter so that tests can set the time).
        self.now_ns = now_ns
        self._runs: set[str] = set()
        self._experiments: dict[str, int] = {}
        self._metrics: dict[tuple[str, str, str], Metric] = {}
        self._kinds: dict[tuple[str, str], str | None] = {}
        self._stored: dict[tuple[str, str, str], sa.RowMapping] = {}
        self._logs = LogWriter(conn)
        #: Runs whose sign of life this transaction noted (by `collectors.store._apply`).
        self.touched: set[str] = set()

    @property
    def connection(self) -> sa.Connection:
        """The connection this transaction runs on (for the handler modules)."""
        return self._conn

    def finish(self) -> None:
        """Write the buffered points as chunks, the metric summaries, log lines and spans."""
        self._logs.finish()
        dirty = [metric for metric in self._metrics.values() if metric.pending]
        if not dirty:
            return
        rows = [row for metric in dirty for row in self._chunk_rows(metric)]
        self._conn.execute(sa.insert(_chunks), rows)
        summaries = [
            {"metric_id": m.id, **{f"v_{k}": v for k, v in summary_values(m).items()}}
            for m in dirty
        ]
        self._conn.execute(_UPDATE_SUMMARY, summaries)
        for metric in dirty:
            metric.pending = []

    # --- runs and experiments ------------------------------------------------------------

    def ensure_run(self, run_id: str, experiment: str, time_ns: int) -> str | None:
        """Create the run (and its experiment) if unknown; return an error or None."""
        if not cv.is_valid_run_id(run_id):
            return f"invalid run id {run_id!r}: expected 1-64 characters of [A-Za-z0-9_.-]"
        if self._run_exists(run_id):
            return None
        problem = cv.check_name("experiment name", experiment)
        if problem is not None:
            return f"run {run_id!r}: {problem}"
        row = {
            "run_id": run_id,
            "experiment_id": self.experiment_id(experiment, time_ns),
            "status": cv.STATUS_RUNNING,
            "start_ns": time_ns,
            "last_seen_ns": self.now_ns(),
        }
        self._conn.execute(sa.insert(_runs), row)
        self._runs.add(run_id)
        self.record_status(run_id, cv.STATUS_RUNNING, time_ns)
        return None

    def status_of(self, run_id: str) -> str | None:
        """The run's current status (None for an unknown run)."""
        found = self._conn.execute(_RUN_STATUS, {"r": run_id}).scalar()
        return None if found is None else str(found)

    def set_status(self, run_id: str, status: str, time_ns: int, error: str | None) -> None:
        """Set the status of an existing run; a change is added to its status history."""
        changed = self.status_of(run_id) != status
        terminal = status in cv.TERMINAL_STATUSES
        end_ns, text = (time_ns, error) if terminal else (None, None)
        statement = _END_RUN if terminal else _SET_STATUS
        self._conn.execute(statement, {"r": run_id, "s": status, "e": end_ns, "x": text})
        if changed:
            self.record_status(run_id, status, time_ns)

    def record_status(self, run_id: str, status: str, time_ns: int) -> None:
        """Append one entry to the run's status history."""
        seq = int(self._conn.execute(_LAST_STATUS_SEQ, {"r": run_id}).scalar() or 0) + 1
        row = {"run_id": run_id, "seq": seq, "status": status, "time_ns": time_ns}
        self._conn.execute(sa.insert(_statuses), row)

    def _run_exists(self, run_id: str) -> bool:
        if run_id not in self._runs:
            if self._conn.execute(_RUN_EXISTS, {"r": run_id}).first() is None:
                return False
            self._runs.add(run_id)
        return True

    def experiment_id(self, name: str, time_ns: int, row: dict[str, Any] | None = None) -> int:
        """The id of experiment *name*, created (with *row*'s columns, if given) if unknown."""
        if name not in self._experiments:
            found = self._conn.execute(_EXPERIMENT_ID, {"n": name}).scalar()
            if found is None:
                row = row or {"name": name, "created_ns": time_ns}
                result = self._conn.execute(sa.insert(_experiments), row)
                found = primary_key(result)
            self._experiments[name] = int(found)
        return self._experiments[name]

    def forget_experiments(self) -> None:
        """Drop the cached name-to-id map (after a rename)."""
        self._experiments.clear()

    def _require_run(self, run_id: str, time_ns: int | None = None) -> str | None:
        """Make sure a run exists before an operation on it (unknown ids create the run)."""
        when = self.now_ns() if time_ns is None else time_ns
        return self.ensure_run(run_id, cv.DEFAULT_EXPERIMENT, when)

    def on_ensure_run(self, op: EnsureRun) -> str | None:
        error = self.ensure_run(op.run_id, op.experiment, op.time_ns)
        if error is None:
            for column, value in (("name", op.name), ("parent_id", op.parent_id)):
                if value is not None:
                    self._conn.execute(_FILL_RUN[column], {"r": op.run_id, "v": value})
        return error

    def on_set_status(self, op: SetStatus) -> str | None:
        if op.status not in cv.STATUSES:
            expected = ", ".join(sorted(cv.STATUSES))
            return f"run {op.run_id!r}: unknown status {op.status!r}; expected one of {expected}"
        error = self._require_run(op.run_id, op.time_ns)
        if error is None:
            self.set_status(op.run_id, op.status, op.time_ns, op.error)
        return error

    # --- tags, params, properties --------------------------------------------------------

    def on_set_tag(self, op: SetTag) -> str | None:
        error = _check_key_value("tag", op.run_id, op.key, op.value) or self._require_run(op.run_id)
        if error is None:
            statements = _KV["tags"]
            if not self._conn.execute(
                statements["update"], {"r": op.run_id, "k": op.key, "v": op.value}
            ).rowcount:
                row = {"run_id": op.run_id, "key": op.key, "value": op.value}
                self._conn.execute(statements["insert"], row)
        return error

    def on_delete_tag(self, op: DeleteTag) -> str | None:
        self._conn.execute(_KV["tags"]["delete"], {"r": op.run_id, "k": op.key})
        return None

    def on_set_param(self, op: SetParam) -> str | None:
        return self._set_immutable("params", "param", op.run_id, op.key, op.value)

    def on_set_property(self, op: SetProperty) -> str | None:
        return self._set_immutable("properties", "property", op.run_id, op.key, op.value)

    def _set_immutable(
        self, table: str, what: str, run_id: str, key: str, value: str
    ) -> str | None:
        error = _check_key_value(what, run_id, key, value) or self._require_run(run_id)
        if error is not None:
            return error
        statements = _KV[table]
        old = self._conn.execute(statements["select"], {"r": run_id, "k": key}).scalar()
        if old is None:
            self._conn.execute(statements["insert"], {"run_id": run_id, "key": key, "value": value})
        elif old != value:
            return (
                f"{what} {key!r} of run {run_id!r} is already {old!r}; refusing to change it to "
                f"{value!r} ({what}s are immutable: start a new run, or use a tag)"
            )
        return None

    # --- log lines and spans ---------------------------------------------------------------

    def on_append_log_lines(self, op: AppendLogLines) -> str | None:
        if not op.lines:
            return None
        error = self._require_run(op.run_id, op.lines[0].time_ns)
        if error is None:
            self._logs.add_lines(op)
        return error

    def on_append_spans(self, op: AppendSpans) -> str | None:
        if not op.spans:
            return None
        error = self._require_run(op.run_id, op.spans[0].start_ns)
        if error is None:
            self._logs.add_spans(op)
        return error

    # --- metric points -------------------------------------------------------------------

    def on_append_points(self, op: AppendPoints) -> str | None:
        try:
            part = validated_part(op)
        except ValueError as exc:
            return f"metric {op.name!r} of run {op.run_id!r}: {exc}"
        if not len(part.steps):
            return None
        error = self._require_run(op.run_id, int(part.times[0]))
        if error is not None:
            return error
        metric = self._metric(op.run_id, op.name, op.column, op.kind, part.dtype)
        if isinstance(metric, str):
            return metric
        try:
            add_part(metric, part)  # resolves automatic steps against the buffered ones
        except ValueError as exc:
            return f"metric {op.name!r} of run {op.run_id!r}: {exc}"
        return None

    def _metric(self, run_id: str, name: str, column: str, kind: str, dtype: str) -> Metric | str:
        """The metric's state, created if new, or an error message for a kind conflict."""
        known = self._kind(run_id, name)
        if known is not None and known != kind:
            return (
                f"metric {name!r} of run {run_id!r} is a {known} metric; refusing {kind} points "
                "(use another name)"
            )
        key = (run_id, name, column)
        if key not in self._metrics:
            row = self._stored.pop(key, None)
            self._metrics[key] = (
                self._new_metric(run_id, name, column, kind, dtype)
                if row is None
                else self._load_metric(row)
            )
        self._kinds[(run_id, name)] = kind
        return self._metrics[key]

    def _kind(self, run_id: str, name: str) -> str | None:
        """The kind of the run's metric *name*; loads its stored columns on first use."""
        if (run_id, name) not in self._kinds:
            rows = self._conn.execute(_METRIC_FAMILY, {"r": run_id, "n": name}).mappings().all()
            self._kinds[(run_id, name)] = rows[0]["kind"] if rows else None
            for row in rows:
                self._stored[(run_id, name, row["column"])] = row
        return self._kinds[(run_id, name)]

    def _load_metric(self, row: sa.RowMapping) -> Metric:
        tail = self._conn.execute(_TAIL, {"i": row["id"]}).first()
        metric = Metric(id=row["id"], kind=row["kind"], dtype=row["dtype"], count=row["count"])
        metric.last_dtype, metric.last_bits = row["last_dtype"], row["last_bits"]
        metric.last = metric_summary(row).last if row["count"] else None
        metric.last_step, metric.last_time_ns = row["last_step"], row["last_time_ns"]
        metric.append_step = row["append_step"]
        metric.low, metric.high = row["min_value"], row["max_value"]
        metric.tail = None if tail is None else (tail.seq, tail.n, tail.dtype)
        return metric

    def _new_metric(self, run_id: str, name: str, column: str, kind: str, dtype: str) -> Metric:
        values: dict[str, Any] = {"run_id": run_id, "name": name, "column": column}
        values.update(kind=kind, dtype=dtype, count=0, last_dtype=dtype, last_step=0)
        values.update(last_time_ns=0)
        result = self._conn.execute(sa.insert(_metrics), values)
        return Metric(id=primary_key(result), kind=kind)

    def _chunk_rows(self, metric: Metric) -> list[dict[str, Any]]:
        """Rows for the pending points; a short last chunk of the same dtype is rewritten."""
        parts = merge_runs(metric.pending)
        tail, seq = metric.tail, 0 if metric.tail is None else metric.tail[0] + 1
        if tail is not None and tail[1] < CHUNK_POINTS and tail[2] == parts[0].dtype:
            seq = tail[0]
            parts[0] = merge_runs([self._read_chunk(metric.id, seq, tail[2]), parts[0]])[0]
            self._conn.execute(_DELETE_CHUNK, {"i": metric.id, "s": seq})
        rows = chunk_rows(metric.id, seq, parts)
        last = rows[-1]
        metric.tail = (last["seq"], last["n"], last["dtype"])
        return rows

    def _read_chunk(self, metric_id: int, seq: int, dtype: str) -> Part:
        row = self._conn.execute(_READ_CHUNK, {"i": metric_id, "s": seq}).one()
        steps, times = chunks.join_ints([row.steps]), chunks.join_ints([row.times])
        return Part(dtype, steps, times, chunks.join_values(dtype, [row.values]))


def primary_key(result: sa.CursorResult[Any]) -> int:
    """The id of the row a single-row insert created."""
    key = result.inserted_primary_key
    if key is None:  # only for executemany, which these inserts never are
        raise RuntimeError("the database did not report the new row's id")
    return int(key[0])


def _check_key_value(what: str, run_id: str, key: str, value: str) -> str | None:
    problem = cv.check_name(f"{what} key", key)
    if problem is None and not isinstance(value, str):
        problem = f"{what} {key!r} must have a string value, got {type(value).__name__}"
    elif problem is None and len(value) > cv.MAX_VALUE_LENGTH:
        problem = f"{what} {key!r} is {len(value)} characters long; the limit is 8192"
    return None if problem is None else f"run {run_id!r}: {problem}"
