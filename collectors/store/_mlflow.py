"""Reads for the MLflow REST API: experiments with lifecycle and tags, run lifecycle and
inputs/outputs, logged models. Each function takes an open connection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from collectors.store import schema
from collectors.store._rows import from_row
from collectors.store.base import (
    FileInfo,
    LoggedModelInfo,
    MlflowExperiment,
    ModelMetricInfo,
    RunState,
)

_e, _et, _r = schema.experiments, schema.experiment_tags, schema.runs
_io, _lm = schema.run_io, schema.logged_models
_lmm, _lmf = schema.logged_model_metrics, schema.logged_model_files


def experiments(
    conn: sa.Connection, ids: Sequence[int] | None, names: Sequence[str] | None
) -> list[MlflowExperiment]:
    """Experiments by id or name (all when both are None), ordered by id, with their tags."""
    query = sa.select(
        _e.c.id,
        _e.c.name,
        _e.c.created_ns,
        _e.c.lifecycle_stage,
        _e.c.artifact_location,
        _e.c.last_update_ns,
    ).order_by(_e.c.id)
    if ids is not None:
        query = query.where(_e.c.id.in_(list(ids)))
    if names is not None:
        query = query.where(_e.c.name.in_(list(names)))
    found = {row[0]: MlflowExperiment(*row) for row in conn.execute(query)}
    if found:
        tags = sa.select(_et).where(_et.c.experiment_id.in_(list(found))).order_by(_et.c.key)
        for tag in conn.execute(tags):
            found[tag.experiment_id].tags[tag.key] = tag.value
    return list(found.values())


def run_states(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, RunState]:
    """Experiment id and lifecycle stage of each known run."""
    query = sa.select(_r.c.run_id, _r.c.experiment_id, _r.c.lifecycle_stage)
    rows = conn.execute(query.where(_r.c.run_id.in_(list(run_ids))))
    return {row[0]: RunState(*row) for row in rows}


def run_io(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, list[tuple[str, Any]]]:
    """Each run's (direction, decoded JSON payload) pairs, in the order they were logged."""
    query = sa.select(_io).where(_io.c.run_id.in_(list(run_ids))).order_by(_io.c.seq, _io.c.key)
    out: dict[str, list[tuple[str, Any]]] = {}
    for row in conn.execute(query):
        out.setdefault(row.run_id, []).append((row.direction, json.loads(row.payload)))
    return out


def logged_models(
    conn: sa.Connection, model_ids: Sequence[str] | None, experiment_ids: Sequence[int] | None
) -> list[LoggedModelInfo]:
    """Logged models by id or experiment, newest first."""
    query = sa.select(_lm).order_by(_lm.c.created_ns.desc(), _lm.c.model_id)
    if model_ids is not None:
        query = query.where(_lm.c.model_id.in_(list(model_ids)))
    if experiment_ids is not None:
        query = query.where(_lm.c.experiment_id.in_(list(experiment_ids)))
    return [_logged_model(row) for row in conn.execute(query).mappings()]


def _logged_model(row: sa.RowMapping) -> LoggedModelInfo:
    tags, params = json.loads(row["tags"]), json.loads(row["params"])
    return from_row(LoggedModelInfo, row, tags=tags, params=params)


def logged_model_metrics(
    conn: sa.Connection, model_ids: Sequence[str]
) -> dict[str, list[ModelMetricInfo]]:
    """The metrics linked to each logged model, in the order they were logged."""
    query = sa.select(_lmm).where(_lmm.c.model_id.in_(list(model_ids))).order_by(_lmm.c.id)
    out: dict[str, list[ModelMetricInfo]] = {}
    for row in conn.execute(query):
        value = float(np.array([row.value_bits], dtype=np.int64).view(np.float64)[0])
        metric = ModelMetricInfo(
            row.name,
            value,
            row.step,
            row.time_ns,
            row.run_id,
            row.dataset_name,
            row.dataset_digest,
        )
        out.setdefault(row.model_id, []).append(metric)
    return out


def logged_model_files(conn: sa.Connection, model_id: str) -> list[FileInfo]:
    """The files recorded for a logged model, by path."""
    query = sa.select(_lmf.c.path, _lmf.c.size, _lmf.c.sha256, _lmf.c.created_ns)
    query = query.where(_lmf.c.model_id == model_id).order_by(_lmf.c.path)
    return [FileInfo(*row) for row in conn.execute(query)]


def batch_state(
    conn: sa.Connection, run_id: str, param_keys: Sequence[str], metric_names: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The run's stored values of *param_keys* and kinds of *metric_names* (those that exist)."""
    p, m = schema.params, schema.metrics
    params: dict[str, str] = {}
    kinds: dict[str, str] = {}
    if param_keys:
        query = sa.select(p.c.key, p.c.value).where(p.c.run_id == run_id)
        params = dict(conn.execute(query.where(p.c.key.in_(list(param_keys)))).tuples().all())
    if metric_names:
        query = sa.select(m.c.name, m.c.kind).where(m.c.run_id == run_id).distinct()
        kinds = dict(conn.execute(query.where(m.c.name.in_(list(metric_names)))).tuples().all())
    return params, kinds
