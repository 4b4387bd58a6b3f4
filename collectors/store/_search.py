"""Run search: the parsed filter as SQLAlchemy, paging tokens, and batched loading of runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from collectors.store import schema
from collectors.store._rows import from_row
from collectors.store.base import MetricSummary, RunInfo
from runlog import conventions as cv
from runlog.filters import (
    COMPARISONS,
    MATCH_ALL,
    And,
    Comparison,
    Filter,
    Key,
    OrderBy,
    parse_filter,
    parse_order_by,
)

_IN_CHUNK = 500  # ids per IN (...) list, well below every driver's parameter limit
_DEFAULT_ORDER = OrderBy(Key("attribute", "start_time"), ascending=False)

_runs, _experiments, _metrics = schema.runs, schema.experiments, schema.metrics
_ATTRIBUTE_COLUMNS: dict[str, sa.ColumnElement[Any]] = {
    "status": _runs.c.status,
    "name": _runs.c.name,
    "run_id": _runs.c.run_id,
    "parent_id": _runs.c.parent_id,
    "start_time": _runs.c.start_ns,
    "end_time": _runs.c.end_ns,
    "experiment": _experiments.c.name,
    "lifecycle_stage": _runs.c.lifecycle_stage,  # MLflow's soft delete: active | deleted
}
_KEY_VALUE_TABLES = {"param": schema.params, "tag": schema.tags, "property": schema.properties}
_OPERATORS: dict[str, Callable[[sa.ColumnElement[Any], Any], sa.ColumnElement[bool]]] = {
    **COMPARISONS,
    "LIKE": lambda e, v: e.like(v),
    "ILIKE": lambda e, v: e.ilike(v),
    # A run without the key (NULL) matches neither IN nor NOT IN, as with = and !=.
    "IN": lambda e, v: e.in_(list(v)),
    "NOT IN": lambda e, v: e.not_in(list(v)),
    "IS NULL": lambda e, v: e.is_(None),
    "IS NOT NULL": lambda e, v: e.is_not(None),
}


def key_expression(key: Key) -> sa.ColumnElement[Any]:
    """The SQL value of *key* for the run in the enclosing query (NULL when missing)."""
    if key.type == "attribute":
        return _ATTRIBUTE_COLUMNS[key.name]
    if key.type == "metric":
        m = _metrics
        last = sa.func.coalesce(m.c.last_f8, m.c.last_i8)
        metric_where = (m.c.run_id == _runs.c.run_id, m.c.name == key.name, m.c.column == "")
        return sa.select(last).where(*metric_where).scalar_subquery()
    table = _KEY_VALUE_TABLES[key.type]
    where = (table.c.run_id == _runs.c.run_id, table.c.key == key.name)
    return sa.select(table.c.value).where(*where).scalar_subquery()


def condition(filter: Filter) -> sa.ColumnElement[bool]:
    """*filter* as a SQL condition on the run in the enclosing query."""
    if isinstance(filter, Comparison):
        return _OPERATORS[filter.op](key_expression(filter.key), filter.value)
    terms = [condition(term) for term in filter.terms]
    if not terms:
        return sa.true()
    return sa.and_(*terms) if isinstance(filter, And) else sa.or_(*terms)


def run_query(
    experiments: Sequence[str] | None,
    filter: Filter | str,
    order_by: Sequence[OrderBy | str],
) -> sa.Select[Any]:
    """The ordered ``SELECT run_id`` for a search (paging is added by the caller); text is
    parsed with the runs' keys."""
    query = sa.select(_runs.c.run_id).join(_experiments, _runs.c.experiment_id == _experiments.c.id)
    if experiments is not None:
        query = query.where(_experiments.c.name.in_(list(experiments)))
    parsed = parse_filter(filter) if isinstance(filter, str) else filter
    if parsed != MATCH_ALL:
        query = query.where(condition(parsed))
    orders = [o if isinstance(o, OrderBy) else parse_order_by(o) for o in order_by]
    orders = orders or [_DEFAULT_ORDER]
    for order in orders:
        expression = key_expression(order.key)
        direction = expression.asc() if order.ascending else expression.desc()
        query = query.order_by(direction.nulls_last())
    return query.order_by(_runs.c.run_id.asc())


def load_runs(conn: sa.Connection, run_ids: Sequence[str]) -> list[RunInfo]:
    """Load runs with tags, params, properties and metric summaries; a few queries per 500."""
    found: dict[str, RunInfo] = {}
    for ids in _chunked(run_ids):
        _load_chunk(conn, ids, found)
    return [found[run_id] for run_id in run_ids if run_id in found]


def _chunked(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield list(items[start : start + _IN_CHUNK])


def _load_chunk(conn: sa.Connection, ids: list[str], found: dict[str, RunInfo]) -> None:
    query = sa.select(_runs, _experiments.c.name.label("experiment")).join(
        _experiments, _runs.c.experiment_id == _experiments.c.id
    )
    for row in conn.execute(query.where(_runs.c.run_id.in_(ids))).mappings():
        found[row["run_id"]] = _run_info(row)
    for attribute, table in (
        ("tags", schema.tags),
        ("params", schema.params),
        ("properties", schema.properties),
    ):
        query = sa.select(table).where(table.c.run_id.in_(ids)).order_by(table.c.key)
        for key_value in conn.execute(query):
            getattr(found[key_value.run_id], attribute)[key_value.key] = key_value.value
    query = sa.select(_metrics).where(_metrics.c.run_id.in_(ids))
    for row in conn.execute(query.order_by(_metrics.c.name, _metrics.c.column)).mappings():
        found[row["run_id"]].metrics.append(metric_summary(row))


def _run_info(row: sa.RowMapping) -> RunInfo:
    return from_row(RunInfo, row, deleted=row["lifecycle_stage"] == "deleted")


def metric_summary(row: sa.RowMapping) -> MetricSummary:
    """A `MetricSummary` from a row of the metrics table."""
    last = _last_value(row)
    return from_row(MetricSummary, row, last=last, min=row["min_value"], max=row["max_value"])


def _last_value(row: sa.RowMapping) -> Any:
    dtype = row["last_dtype"]
    if dtype == cv.DTYPE_FLOAT:
        return float(np.array([row["last_bits"]], dtype=np.int64).view(np.float64)[0])
    if dtype == cv.DTYPE_INT:
        return int(row["last_i8"])
    if dtype == cv.DTYPE_BOOL:
        return bool(row["last_i8"])
    return row["last_str"]
