"""Applying the MLflow REST operations (experiments, run lifecycle, inputs, logged models).

Handlers take the `Transaction` (for its connection and caches) and one operation, and
return an error message or None, like the `Transaction`'s own ``on_*`` methods. The MLflow
API checks that runs and experiments exist before it submits these operations; the checks
here guard the rules that must hold inside the transaction (unique experiment names).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from collectors.ops import (
    AppendModelMetrics,
    CreateExperiment,
    CreateLoggedModel,
    DeleteExperimentTag,
    RecordModelFile,
    SetExperimentTag,
    SetRunIO,
    SetRunLifecycle,
    SetRunName,
    UpdateExperiment,
    UpdateLoggedModel,
)
from collectors.store import _apply_registry, schema
from runlog import conventions as cv

if TYPE_CHECKING:
    from collectors.store._transaction import Transaction

_e, _r, _et = schema.experiments, schema.runs, schema.experiment_tags
_io, _lm = schema.run_io, schema.logged_models
_lmm, _lmf = schema.logged_model_metrics, schema.logged_model_files
_p = sa.bindparam
LIFECYCLE_STAGES = ("active", "deleted")


def _already_exists(name: str) -> str:
    return f"experiment {name!r} already exists; pick another name or restore the deleted one"


def on_create_experiment(tx: Transaction, op: CreateExperiment) -> str | None:
    problem = cv.check_name("experiment name", op.name)
    if problem is not None:
        return problem
    conn = tx.connection
    if conn.execute(sa.select(_e.c.id).where(_e.c.name == op.name)).first() is not None:
        return _already_exists(op.name)
    row = {
        "name": op.name,
        "created_ns": op.time_ns,
        "last_update_ns": op.time_ns,
        "artifact_location": op.artifact_location,
    }
    experiment_id = tx.experiment_id(op.name, op.time_ns, row)
    for key, value in op.tags:
        _upsert_experiment_tag(conn, experiment_id, key, value)
    return None


def on_update_experiment(tx: Transaction, op: UpdateExperiment) -> str | None:
    conn = tx.connection
    values: dict[str, Any] = {"last_update_ns": op.time_ns}
    if op.name is not None:
        problem = cv.check_name("experiment name", op.name)
        if problem is not None:
            return problem
        taken = conn.execute(sa.select(_e.c.id).where(_e.c.name == op.name)).scalar()
        if taken is not None and taken != op.experiment_id:
            return _already_exists(op.name)
        values["name"] = op.name
        tx.forget_experiments()
    if op.lifecycle_stage is not None:
        if op.lifecycle_stage not in LIFECYCLE_STAGES:
            return f"unknown lifecycle stage {op.lifecycle_stage!r}; expected active or deleted"
        values["lifecycle_stage"] = op.lifecycle_stage
        # As MLflow does: deleting or restoring an experiment deletes or restores its runs.
        runs = sa.update(_r).where(_r.c.experiment_id == op.experiment_id)
        conn.execute(runs.values(lifecycle_stage=op.lifecycle_stage))
    conn.execute(sa.update(_e).where(_e.c.id == op.experiment_id).values(values))
    return None


def on_set_experiment_tag(tx: Transaction, op: SetExperimentTag) -> str | None:
    problem = cv.check_name("experiment tag key", op.key)
    if problem is not None:
        return problem
    _upsert_experiment_tag(tx.connection, op.experiment_id, op.key, op.value)
    return None


def _upsert_experiment_tag(conn: sa.Connection, experiment_id: int, key: str, value: str) -> None:
    where = (_et.c.experiment_id == experiment_id, _et.c.key == key)
    if not conn.execute(sa.update(_et).where(*where).values(value=value)).rowcount:
        conn.execute(sa.insert(_et).values(experiment_id=experiment_id, key=key, value=value))


def on_delete_experiment_tag(tx: Transaction, op: DeleteExperimentTag) -> str | None:
    where = (_et.c.experiment_id == op.experiment_id, _et.c.key == op.key)
    tx.connection.execute(sa.delete(_et).where(*where))
    return None


def on_set_run_name(tx: Transaction, op: SetRunName) -> str | None:
    tx.connection.execute(sa.update(_r).where(_r.c.run_id == op.run_id).values(name=op.name))
    return None


def on_set_run_lifecycle(tx: Transaction, op: SetRunLifecycle) -> str | None:
    if op.lifecycle_stage not in LIFECYCLE_STAGES:
        return f"unknown lifecycle stage {op.lifecycle_stage!r}; expected active or deleted"
    update = sa.update(_r).where(_r.c.run_id == op.run_id)
    tx.connection.execute(update.values(lifecycle_stage=op.lifecycle_stage))
    return None


def on_set_run_io(tx: Transaction, op: SetRunIO) -> str | None:
    conn = tx.connection
    where = (_io.c.run_id == op.run_id, _io.c.direction == op.direction, _io.c.key == op.key)
    if not conn.execute(sa.update(_io).where(*where).values(payload=op.payload)).rowcount:
        last = sa.select(sa.func.max(_io.c.seq)).where(_io.c.run_id == op.run_id)
        seq = (conn.execute(last).scalar() or 0) + 1  # the order in which they were logged
        row = {"run_id": op.run_id, "direction": op.direction, "key": op.key, "seq": seq}
        conn.execute(sa.insert(_io).values(payload=op.payload, **row))
    return None


def on_create_logged_model(tx: Transaction, op: CreateLoggedModel) -> str | None:
    row = {
        "model_id": op.model_id,
        "experiment_id": op.experiment_id,
        "name": op.name,
        "source_run_id": op.source_run_id,
        "model_type": op.model_type,
        "status": "LOGGED_MODEL_PENDING",
        "lifecycle_stage": "active",
        "created_ns": op.time_ns,
        "updated_ns": op.time_ns,
        "tags": json.dumps(dict(op.tags)),
        "params": json.dumps(dict(op.params)),
    }
    tx.connection.execute(sa.insert(_lm).values(row))
    return None


def on_update_logged_model(tx: Transaction, op: UpdateLoggedModel) -> str | None:
    conn = tx.connection
    found = conn.execute(sa.select(_lm.c.tags, _lm.c.params).where(_lm.c.model_id == op.model_id))
    row = found.first()
    if row is None:
        return f"logged model {op.model_id!r} does not exist"
    tags, params = json.loads(row.tags), json.loads(row.params)
    tags.update(op.set_tags)
    for key in op.delete_tags:
        tags.pop(key, None)
    params.update(op.params)
    values: dict[str, Any] = {
        "updated_ns": op.time_ns,
        "tags": json.dumps(tags),
        "params": json.dumps(params),
    }
    if op.status is not None:
        values["status"] = op.status
    if op.lifecycle_stage is not None:
        values["lifecycle_stage"] = op.lifecycle_stage
    conn.execute(sa.update(_lm).where(_lm.c.model_id == op.model_id).values(values))
    return None


def on_append_model_metrics(tx: Transaction, op: AppendModelMetrics) -> str | None:
    conn = tx.connection
    if not _model_exists(conn, op.model_id):
        return f"logged model {op.model_id!r} does not exist"
    rows = [
        {
            "model_id": op.model_id,
            "name": m.name,
            "value_bits": int(np.array([m.value], dtype=np.float64).view(np.int64)[0]),
            "step": m.step,
            "time_ns": m.time_ns,
            "run_id": m.run_id,
            "dataset_name": m.dataset_name,
            "dataset_digest": m.dataset_digest,
        }
        for m in op.metrics
    ]
    if rows:
        conn.execute(sa.insert(_lmm), rows)
    return None


def _model_exists(conn: sa.Connection, model_id: str) -> bool:
    return (
        conn.execute(sa.select(_lm.c.model_id).where(_lm.c.model_id == model_id)).first()
        is not None
    )


def on_record_model_file(tx: Transaction, op: RecordModelFile) -> str | None:
    conn = tx.connection
    if not _model_exists(conn, op.model_id):
        return f"logged model {op.model_id!r} does not exist"
    values = {"size": op.size, "sha256": op.sha256, "created_ns": op.time_ns}
    where = (_lmf.c.model_id == op.model_id, _lmf.c.path == op.path)
    if not conn.execute(sa.update(_lmf).where(*where).values(values)).rowcount:
        conn.execute(sa.insert(_lmf).values(model_id=op.model_id, path=op.path, **values))
    return None


HANDLERS: dict[type, Callable[[Transaction, Any], str | None]] = {
    CreateExperiment: on_create_experiment,
    UpdateExperiment: on_update_experiment,
    SetExperimentTag: on_set_experiment_tag,
    DeleteExperimentTag: on_delete_experiment_tag,
    SetRunName: on_set_run_name,
    SetRunLifecycle: on_set_run_lifecycle,
    SetRunIO: on_set_run_io,
    CreateLoggedModel: on_create_logged_model,
    UpdateLoggedModel: on_update_logged_model,
    AppendModelMetrics: on_append_model_metrics,
    RecordModelFile: on_record_model_file,
    **_apply_registry.HANDLERS,
}
