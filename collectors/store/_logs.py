"""Log lines and spans in SQL: buffered writes inside a `Transaction`, and the reads.

Lines are numbered per run (``seq`` from 1, arrival order). The first time a transaction
appends to a run it reads the run's highest ``seq`` once — under a row lock on the run on
PostgreSQL, so two collectors sharing a database cannot hand out the same numbers (SQLite
serialises writers with ``BEGIN IMMEDIATE`` anyway) — and counts on in memory. Rows are
written by `LogWriter.finish`: lines in one executemany (COPY on PostgreSQL), spans in one
upsert by (run, trace id, span id), so a span sent again replaces its row.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from collectors.ops import AppendLogLines, AppendSpans, LogLine
from collectors.store import schema
from collectors.store.base import LogLineInfo, SpanInfo

_lines, _spans, _runs = schema.log_lines, schema.spans, schema.runs
_p = sa.bindparam

_LOCK_RUN = sa.select(_runs.c.run_id).where(_runs.c.run_id == _p("r")).with_for_update()
_LAST_SEQ = sa.select(sa.func.max(_lines.c.seq)).where(_lines.c.run_id == _p("r"))
_LINE_COLUMNS = ", ".join(column.name for column in _lines.c)
_SPAN_KEY = ("run_id", "trace_id", "span_id")

_READ_LINES = (
    sa.select(
        _lines.c.seq,
        _lines.c.time_ns,
        _lines.c.level_number,
        _lines.c.level,
        _lines.c.logger,
        _lines.c.message,
        _lines.c.exception,
        _lines.c.stream,
    )
    .where(
        _lines.c.run_id == _p("r"),
        _lines.c.seq > _p("after"),
        _lines.c.level_number >= _p("level"),
    )
    .order_by(_lines.c.seq)
    .limit(_p("limit"))
)
_READ_SPANS = (
    sa.select(
        _spans.c.trace_id,
        _spans.c.span_id,
        _spans.c.parent_span_id,
        _spans.c.name,
        _spans.c.kind,
        _spans.c.start_ns,
        _spans.c.end_ns,
        _spans.c.status_code,
        _spans.c.status_message,
        _spans.c.attributes,
    )
    .where(_spans.c.run_id == _p("r"))
    .order_by(_spans.c.start_ns, _spans.c.trace_id, _spans.c.span_id)
)


def _upsert_spans(dialect: str) -> Any:
    insert = postgresql.insert(_spans) if dialect == "postgresql" else sqlite.insert(_spans)
    changed = {c.name: insert.excluded[c.name] for c in _spans.c if c.name not in _SPAN_KEY}
    return insert.on_conflict_do_update(index_elements=list(_SPAN_KEY), set_=changed)


_UPSERT_SPANS = {name: _upsert_spans(name) for name in ("postgresql", "sqlite")}


class LogWriter:
    """Buffers the log lines and spans of one transaction on *conn*."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._next_seq: dict[str, int] = {}
        self._lines: list[tuple[Any, ...]] = []  # in `_LINE_COLUMNS` order
        self._spans: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add_lines(self, op: AppendLogLines) -> None:
        """Number *op*'s lines after the run's last one and buffer them."""
        seq = self._next_seq.get(op.run_id)
        if seq is None:
            seq = self._first_free_seq(op.run_id)
        run_id = op.run_id
        self._lines.extend(
            (run_id, seq + i, *_line_fields(line)) for i, line in enumerate(op.lines)
        )
        self._next_seq[run_id] = seq + len(op.lines)

    def _first_free_seq(self, run_id: str) -> int:
        self._conn.execute(_LOCK_RUN, {"r": run_id})  # FOR UPDATE on PostgreSQL only
        last = self._conn.execute(_LAST_SEQ, {"r": run_id}).scalar()
        return 1 if last is None else int(last) + 1

    def add_spans(self, op: AppendSpans) -> None:
        """Buffer *op*'s spans; a later copy of the same span wins."""
        for span in op.spans:
            self._spans[(op.run_id, span.trace_id, span.span_id)] = {
                "run_id": op.run_id,
                "trace_id": span.trace_id,
                "span_id": span.span_id,
                "parent_span_id": span.parent_span_id,
                "name": span.name,
                "kind": span.kind,
                "start_ns": span.start_ns,
                "end_ns": span.end_ns,
                "status_code": span.status_code,
                "status_message": span.status_message,
                "attributes": span.attributes_json,
            }

    def finish(self) -> None:
        """Write the buffered rows."""
        if self._lines:
            self._insert_lines()
            self._lines = []
        if self._spans:
            upsert = _UPSERT_SPANS[self._conn.dialect.name]
            self._conn.execute(upsert, list(self._spans.values()))
            self._spans = {}

    def _insert_lines(self) -> None:
        """Through the driver: SQLAlchemy's per-row parameter handling would cost ~5x."""
        dbapi = self._conn.connection.dbapi_connection
        cursor = dbapi.cursor()  # type: ignore[union-attr]  # not None: open in the transaction
        try:
            if self._conn.dialect.name == "postgresql":
                with cursor.copy(f"COPY log_lines ({_LINE_COLUMNS}) FROM STDIN") as copy:
                    for row in self._lines:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(_lines.c))
                sql = f"INSERT INTO log_lines ({_LINE_COLUMNS}) VALUES ({marks})"
                cursor.executemany(sql, self._lines)
        finally:
            cursor.close()


def _line_fields(line: LogLine) -> tuple[Any, ...]:
    return (
        line.time_ns,
        line.level_number,
        line.level,
        line.logger,
        line.message,
        line.exception,
        line.stream,
    )


def read_logs(
    conn: sa.Connection, run_id: str, after_seq: int, limit: int, min_level_number: int
) -> list[LogLineInfo]:
    """Up to *limit* lines of the run after *after_seq*, at least *min_level_number*."""
    params = {"r": run_id, "after": after_seq, "level": min_level_number, "limit": limit}
    return [LogLineInfo(*row) for row in conn.execute(_READ_LINES, params)]


def list_spans(conn: sa.Connection, run_id: str) -> list[SpanInfo]:
    """The run's spans by start time."""
    rows = conn.execute(_READ_SPANS, {"r": run_id}).mappings()
    return [SpanInfo(**{**row, "attributes": json.loads(row["attributes"])}) for row in rows]
