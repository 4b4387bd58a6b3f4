"""Portable archives of a store (``runlog export`` / ``runlog import``).

An archive is one zip file, readable without runlog:

========================  ==============================================================
``manifest.json``         ``{"format": "runlog-archive", "version": 1, "vectors": "parquet"|"npz"}``
``experiments.jsonl``     one experiment per line: ``name``, ``created_ns``
``runs.jsonl``            one run per line: ids, experiment, name, parent, status, times,
                          error, tags, params, properties, ``deleted``, ``statuses``
                          (``[status, time_ns]`` oldest first), ``metrics`` (name, column,
                          kind, dtype, vector file), ``files`` (path, size, sha256)
``vectors/N.parquet``     one metric column: ``step`` (int64), ``time_ns`` (int64),
                          ``value`` (float64, int64, bool or string), in append order;
                          ``vectors/N.npz`` (numpy ``savez``: the same three arrays) when
                          pyarrow is not installed; ``vectors/N.json`` (``[[step, time_ns,
                          value], …]``) for columns of mixed types
``logs/RUN.jsonl``        the run's log lines, in order
``spans/RUN.jsonl``       the run's spans
``files/RUN/PATH``        the run's uploaded files
========================  ==============================================================

Importing replays the archive as ordinary store operations, so it works into any store
(SQLite or PostgreSQL, empty or not: a run id already there gets the archive's data added).
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from collectors.ops import (
    AppendLogLines,
    AppendPoints,
    AppendSpans,
    EnsureRun,
    LogLine,
    Op,
    RecordFile,
    SetParam,
    SetProperty,
    SetRunLifecycle,
    SetStatus,
    SetTag,
    SpanRecord,
)
from collectors.store.files import LocalFileStore
from collectors.store.sql import SQLStore
from runlog import conventions as cv

__all__ = ["FORMAT", "export_archive", "import_archive"]

FORMAT = "runlog-archive"
_VERSION = 1
_BLOCK = 1024 * 1024
_MIXED = "mixed"  # a column holding points of several dtypes
_NUMPY = {cv.DTYPE_FLOAT: "<f8", cv.DTYPE_INT: "<i8", cv.DTYPE_BOOL: "?"}


def _vector_format() -> str:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return "npz"
    return "parquet"


def export_archive(
    store: SQLStore,
    files: LocalFileStore | None,
    target: Path,
    experiments: list[str] | None = None,
) -> dict[str, int]:
    """Write the store's experiments and runs (all, or those of *experiments*) to the zip
    file *target*; return counts of what was written."""
    fmt = _vector_format()
    counts = {"experiments": 0, "runs": 0, "vectors": 0, "files": 0}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "manifest.json", json.dumps({"format": FORMAT, "version": _VERSION, "vectors": fmt})
        )
        chosen = [
            e for e in store.list_experiments() if experiments is None or e.name in experiments
        ]
        lines = [json.dumps({"name": e.name, "created_ns": e.created_ns}) for e in chosen]
        archive.writestr("experiments.jsonl", "".join(f"{line}\n" for line in lines))
        counts["experiments"] = len(chosen)
        entries = []  # metadata only; the vectors and files are written as they come
        for run in _all_runs(store, [e.name for e in chosen]):
            entries.append(_export_run(store, files, archive, run, fmt, counts))
            counts["runs"] += 1
        archive.writestr("runs.jsonl", "".join(json.dumps(entry) + "\n" for entry in entries))
    return counts


def _all_runs(store: SQLStore, experiments: list[str]) -> Iterator[Any]:
    if not experiments:
        return
    token = None
    while True:
        page = store.search_runs(experiments, "", ("attributes.start_time ASC",), 10_000, token)
        yield from page.runs
        token = page.next_page_token
        if token is None:
            return


def _export_run(
    store: SQLStore,
    files: LocalFileStore | None,
    archive: zipfile.ZipFile,
    run: Any,
    fmt: str,
    counts: dict[str, int],
) -> dict[str, Any]:
    entry = {
        key: getattr(run, key)
        for key in (
            "run_id",
            "experiment",
            "name",
            "parent_id",
            "status",
            "start_ns",
            "end_ns",
            "error",
        )
    }
    entry.update(tags=run.tags, params=run.params, properties=run.properties, deleted=run.deleted)
    entry["statuses"] = [[s.status, s.time_ns] for s in store.status_history(run.run_id)]
    entry["metrics"] = []
    for summary in store.list_metrics(run.run_id):
        vector = store.read_metric(run.run_id, summary.name, summary.column)
        if vector is None:
            continue
        name = f"vectors/{counts['vectors']}"
        name += _write_vector(archive, name, vector, fmt)
        counts["vectors"] += 1
        entry["metrics"].append(
            {
                "name": vector.name,
                "column": vector.column,
                "kind": vector.kind,
                "dtype": vector.dtype,
                "file": name,
            }
        )
    logs = _all_logs(store, run.run_id)
    if logs:
        archive.writestr(
            f"logs/{run.run_id}.jsonl", "".join(json.dumps(line) + "\n" for line in logs)
        )
    spans = [dataclasses.asdict(span) for span in store.list_spans(run.run_id)]
    if spans:
        archive.writestr(f"spans/{run.run_id}.jsonl", "".join(json.dumps(s) + "\n" for s in spans))
    entry["files"] = []
    for info in store.list_files(run.run_id):
        if files is None:
            continue
        try:
            source = files.open_read(run.run_id, info.path)
        except FileNotFoundError:
            continue  # recorded but not on this disk: the record alone would mislead
        with source, archive.open(f"files/{run.run_id}/{info.path}", "w", force_zip64=True) as sink:
            while block := source.read(_BLOCK):
                sink.write(block)
        entry["files"].append(
            {
                "path": info.path,
                "size": info.size,
                "sha256": info.sha256,
                "created_ns": info.created_ns,
            }
        )
        counts["files"] += 1
    return entry


def _all_logs(store: SQLStore, run_id: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    after = 0
    while batch := store.read_logs(run_id, after_seq=after, limit=1000):
        lines.extend(dataclasses.asdict(line) for line in batch)
        after = batch[-1].seq
    return lines


def _write_vector(archive: zipfile.ZipFile, name: str, vector: Any, fmt: str) -> str:
    if vector.dtype == _MIXED:
        rows = [
            [int(s), int(t), v]
            for s, t, v in zip(vector.steps, vector.times, vector.values, strict=True)
        ]
        archive.writestr(name + ".json", json.dumps(rows))
        return ".json"
    values = (
        vector.values if vector.dtype != cv.DTYPE_STR else np.array(vector.values, dtype=object)
    )
    buffer = io.BytesIO()
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"step": vector.steps, "time_ns": vector.times, "value": values})
        pq.write_table(table, buffer)
        suffix = ".parquet"
    else:
        np.savez(buffer, step=vector.steps, time_ns=vector.times, value=values)
        suffix = ".npz"
    archive.writestr(name + suffix, buffer.getvalue(), compress_type=zipfile.ZIP_STORED)
    return suffix


# --- import ---------------------------------------------------------------------------------


def import_archive(store: SQLStore, files: LocalFileStore, source: Path) -> dict[str, int]:
    """Read the archive *source* into *store* (and its files into *files*); return counts.

    Raises:
        ValueError: *source* is not a runlog archive of a version this code reads.
    """
    counts = {"runs": 0, "points": 0, "files": 0}
    with zipfile.ZipFile(source) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        if manifest.get("format") != FORMAT or manifest.get("version") != _VERSION:
            raise ValueError(f"{source} is not a runlog archive of version {_VERSION}: {manifest}")
        names = set(archive.namelist())
        with archive.open("runs.jsonl") as runs_in:
            for line in runs_in:
                run = json.loads(line)
                counts["points"] += _import_run(store, files, archive, names, run, counts)
                counts["runs"] += 1
    return counts


def _import_run(
    store: SQLStore,
    files: LocalFileStore,
    archive: zipfile.ZipFile,
    names: set[str],
    run: dict[str, Any],
    counts: dict[str, int],
) -> int:
    run_id, experiment = run["run_id"], run["experiment"]
    ops: list[Op] = [EnsureRun(run_id, experiment, run["start_ns"], run["parent_id"], run["name"])]
    ops += [SetTag(run_id, k, v) for k, v in run["tags"].items()]
    ops += [SetParam(run_id, k, v) for k, v in run["params"].items()]
    ops += [SetProperty(run_id, k, v) for k, v in run["properties"].items()]
    store.apply([ops])
    points = 0
    for metric in run["metrics"]:
        parts = list(_read_vector(archive, metric))
        store.apply(
            [
                [
                    AppendPoints(
                        run_id, metric["name"], metric["kind"], *part, column=metric["column"]
                    )
                    for part in parts
                ]
            ]
        )
        points += sum(len(part[1]) for part in parts)
    logs = f"logs/{run_id}.jsonl"
    if logs in names:
        lines = [json.loads(line) for line in archive.open(logs)]
        fields = {f.name for f in dataclasses.fields(LogLine)}
        batch = tuple(LogLine(**{k: v for k, v in line.items() if k in fields}) for line in lines)
        store.apply([[AppendLogLines(run_id, batch)]])
    spans = f"spans/{run_id}.jsonl"
    if spans in names:
        records = []
        for line in archive.open(spans):
            span = json.loads(line)
            span["attributes_json"] = json.dumps(span.pop("attributes"))
            records.append(SpanRecord(**span))
        store.apply([[AppendSpans(run_id, tuple(records))]])
    for info in run["files"]:
        with (
            archive.open(f"files/{run_id}/{info['path']}") as source,
            files.open_writer(run_id, info["path"]) as sink,
        ):
            while block := source.read(_BLOCK):
                sink.write(block)
            size, digest = sink.commit()
        store.apply(
            [[RecordFile(run_id, experiment, info["path"], size, digest, info["created_ns"])]]
        )
        counts["files"] += 1
    store.apply([_status_ops(run)])
    return points


def _status_ops(run: dict[str, Any]) -> list[Op]:
    run_id = run["run_id"]
    history = (
        run["statuses"][1:]
        if run["statuses"]
        else [[run["status"], run["end_ns"] or run["start_ns"]]]
    )
    ops: list[Op] = []
    for status, time_ns in history:
        terminal = status in cv.TERMINAL_STATUSES
        ops.append(SetStatus(run_id, status, time_ns, run["error"] if terminal else None))
    if run["deleted"]:
        ops.append(SetRunLifecycle(run_id, "deleted"))
    return ops


def _read_vector(
    archive: zipfile.ZipFile, metric: dict[str, Any]
) -> Iterator[tuple[str, Any, Any, Any]]:
    """(dtype, steps, times, values) parts of one stored column."""
    name, dtype = metric["file"], metric["dtype"]
    data = archive.read(name)
    if name.endswith(".json"):
        yield from _mixed_parts(json.loads(data))
        return
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        steps, times = table["step"].to_numpy(), table["time_ns"].to_numpy()
        values = table["value"].to_pylist() if dtype == cv.DTYPE_STR else table["value"].to_numpy()
    else:
        arrays = np.load(io.BytesIO(data), allow_pickle=dtype == cv.DTYPE_STR)
        steps, times, values = arrays["step"], arrays["time_ns"], arrays["value"]
        values = values.tolist() if dtype == cv.DTYPE_STR else values
    if dtype != cv.DTYPE_STR:
        values = np.asarray(values, dtype=_NUMPY[dtype])
    yield dtype, np.asarray(steps, dtype=np.int64), np.asarray(times, dtype=np.int64), values


def _mixed_parts(rows: list[list[Any]]) -> Iterator[tuple[str, Any, Any, Any]]:
    """Consecutive points of one type, as typed parts."""

    def dtype_of(value: Any) -> str:
        if isinstance(value, bool):
            return cv.DTYPE_BOOL
        if isinstance(value, int):
            return cv.DTYPE_INT
        return cv.DTYPE_FLOAT if isinstance(value, float) else cv.DTYPE_STR

    start = 0
    while start < len(rows):
        dtype = dtype_of(rows[start][2])
        end = start
        while end < len(rows) and dtype_of(rows[end][2]) == dtype:
            end += 1
        chunk = rows[start:end]
        steps = np.array([r[0] for r in chunk], dtype=np.int64)
        times = np.array([r[1] for r in chunk], dtype=np.int64)
        values = [r[2] for r in chunk]
        yield (
            dtype,
            steps,
            times,
            values if dtype == cv.DTYPE_STR else np.array(values, dtype=_NUMPY[dtype]),
        )
        start = end
