"""``runlog import --from-mlflow URI``: copy an MLflow tracking server's history.

Through MLflow's own client (``mlflow`` must be installed), every experiment (or the ones
named) and every run in it, deleted ones included, becomes a runlog run with the same id:
its name, parent (``mlflow.parentRunId``), tags, params, full metric histories (every
point, with its step and time), status and times, and its artifacts as run files (the
paths MLflow clients then see through runlog's artifact proxy). Artifacts stream through a
temporary folder one file at a time.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from collectors.mlflow.mapping import STATUS_TO_RUNLOG
from collectors.ops import (
    AppendPoints,
    EnsureRun,
    Op,
    RecordFile,
    SetParam,
    SetRunLifecycle,
    SetStatus,
    SetTag,
)
from collectors.store.files import LocalFileStore
from collectors.store.sql import SQLStore
from runlog import conventions as cv

__all__ = ["import_from_mlflow"]

_MS = 1_000_000  # ns per ms
_BLOCK = 1024 * 1024
_PARENT_TAG = "mlflow.parentRunId"


def import_from_mlflow(
    store: SQLStore, files: LocalFileStore, tracking_uri: str, experiments: list[str] | None = None
) -> dict[str, int]:
    """Copy the MLflow server at *tracking_uri* into *store* and *files*; return counts."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    counts = {"experiments": 0, "runs": 0, "points": 0, "files": 0}
    for experiment in _pages(client.search_experiments, view_type=ViewType.ALL):
        if experiments and experiment.name not in experiments:
            continue
        counts["experiments"] += 1
        runs = _pages(client.search_runs, [experiment.experiment_id], run_view_type=ViewType.ALL)
        for run in runs:
            _copy_run(client, store, files, experiment.name, run, counts)
            counts["runs"] += 1
    return counts


def _pages(search: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
    token = None
    while True:
        page = search(*args, max_results=1000, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def _copy_run(
    client: Any,
    store: SQLStore,
    files: LocalFileStore,
    experiment: str,
    run: Any,
    counts: dict[str, int],
) -> None:
    info, data = run.info, run.data
    run_id = info.run_id
    parent = data.tags.get(_PARENT_TAG)
    ops: list[Op] = [
        EnsureRun(run_id, experiment, info.start_time * _MS, parent, info.run_name or None)
    ]
    ops += [SetTag(run_id, k, v) for k, v in sorted(data.tags.items())]
    ops += [SetParam(run_id, k, v) for k, v in sorted(data.params.items())]
    store.apply([ops])
    for key in sorted(data.metrics):
        history = client.get_metric_history(run_id, key)
        steps = np.array([m.step for m in history], dtype=np.int64)
        times = np.array([m.timestamp * _MS for m in history], dtype=np.int64)
        values = np.array([m.value for m in history], dtype=np.float64)
        store.apply([[AppendPoints(run_id, key, "scalar", cv.DTYPE_FLOAT, steps, times, values)]])
        counts["points"] += len(history)
    with tempfile.TemporaryDirectory(prefix="runlog-mlflow-") as scratch:
        for path in _artifact_paths(client, run_id, None):
            record = _copy_artifact(client, files, run_id, experiment, path, Path(scratch))
            store.apply([[record]])
            counts["files"] += 1
    status = STATUS_TO_RUNLOG.get(info.status, cv.STATUS_RUNNING)
    end: list[Op] = []
    if status != cv.STATUS_RUNNING:
        end.append(SetStatus(run_id, status, (info.end_time or info.start_time) * _MS))
    if info.lifecycle_stage == "deleted":
        end.append(SetRunLifecycle(run_id, "deleted"))
    store.apply([end])


def _artifact_paths(client: Any, run_id: str, path: str | None) -> Iterator[str]:
    for entry in client.list_artifacts(run_id, path):
        if entry.is_dir:
            yield from _artifact_paths(client, run_id, entry.path)
        else:
            yield entry.path


def _copy_artifact(
    client: Any, files: LocalFileStore, run_id: str, experiment: str, path: str, scratch: Path
) -> RecordFile:
    local = Path(client.download_artifacts(run_id, path, str(scratch)))
    try:
        with local.open("rb") as source, files.open_writer(run_id, path) as sink:
            while block := source.read(_BLOCK):
                sink.write(block)
            size, digest = sink.commit()
    finally:
        local.unlink(missing_ok=True)
    return RecordFile(run_id, experiment, path, size, digest, time.time_ns())
