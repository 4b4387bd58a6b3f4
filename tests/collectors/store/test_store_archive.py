"""`runlog export` / `runlog import`: a SQLite store moved into PostgreSQL keeps every run,
point, log line, span, status change and file."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from postgres import scratch_schema

from collectors.ops import (
    AppendLogLines,
    AppendPoints,
    AppendSpans,
    EnsureRun,
    LogLine,
    RecordFile,
    SetParam,
    SetProperty,
    SetRunLifecycle,
    SetStatus,
    SetTag,
    SpanRecord,
)
from collectors.store import LocalFileStore, SQLStore, open_store
from runlog.cli import cli

MODEL = b"weights" * 100_000


@pytest.fixture
def pg_url(pg_database: tuple[Any, str]) -> Iterator[str]:
    scratch, database = pg_database
    with scratch_schema(scratch, database) as url:
        yield url


def fill(store: SQLStore, files: LocalFileStore) -> None:
    steps = np.arange(25_000, dtype=np.int64)
    with files.open_writer("parent", "outputs/model.bin") as writer:
        writer.write(MODEL)
        size, digest = writer.commit()
    span = SpanRecord("ab" * 16, "cd" * 8, None, "fit", "INTERNAL", 5, 9, "OK", "", '{"k": 1}')
    store.apply(
        [
            [
                EnsureRun("parent", "moving", 1, name="the parent"),
                EnsureRun("child", "moving", 2, parent_id="parent"),
                EnsureRun("gone", "moving", 3),
                SetTag("parent", "team", "a"),
                SetParam("parent", "lr", "0.1"),
                SetProperty("parent", "azureml.runsource", "experiment"),
                AppendPoints("parent", "loss", "scalar", "f8", steps, steps + 7, steps * 0.25),
                AppendPoints("parent", "acc", "scalar", "i8", steps[:3], steps[:3], steps[:3] * 2),
                AppendPoints("parent", "note", "scalar", "str", steps[:2], steps[:2], ["a", "b"]),
                AppendPoints(
                    "parent", "note", "scalar", "f8", steps[2:3], steps[2:3], np.array([1.5])
                ),
                AppendLogLines("parent", (LogLine(4, 9, "INFO", "app", "hello"),)),
                AppendSpans("parent", (span,)),
                RecordFile("parent", "moving", "outputs/model.bin", size, digest, 6),
                SetStatus("parent", "Finalizing", 8),
                SetStatus("parent", "Failed", 10, "boom"),
                SetRunLifecycle("gone", "deleted"),
            ]
        ]
    )


def snapshot(store: SQLStore, files: LocalFileStore) -> dict[str, Any]:
    """Everything the archive should carry, as plain values."""
    out: dict[str, Any] = {}
    for run_id in ("parent", "child", "gone"):
        run = store.get_run(run_id)
        assert run is not None
        out[run_id] = (
            run.experiment,
            run.name,
            run.parent_id,
            run.status,
            run.start_ns,
            run.end_ns,
            run.error,
            run.tags,
            run.params,
            run.properties,
            run.deleted,
            [(s.status, s.time_ns) for s in store.status_history(run_id)],
        )
    for name in ("loss", "acc", "note"):
        vector = store.read_metric("parent", name)
        assert vector is not None
        values = vector.values if isinstance(vector.values, list) else vector.values.tolist()
        out[name] = (vector.dtype, vector.steps.tolist(), vector.times.tolist(), values)
    out["logs"] = [(x.time_ns, x.level, x.message) for x in store.read_logs("parent")]
    out["spans"] = [(s.name, s.start_ns, s.attributes) for s in store.list_spans("parent")]
    out["files"] = [(f.path, f.size, f.sha256) for f in store.list_files("parent")]
    with files.open_read("parent", "outputs/model.bin") as handle:
        out["bytes"] = hashlib.sha256(handle.read()).hexdigest()
    return out


def test_sqlite_to_postgres_round_trip(tmp_path: Path, pg_url: str) -> None:
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    source, source_files = open_store(source_url), LocalFileStore(tmp_path / "source-files")
    fill(source, source_files)
    expected = snapshot(source, source_files)
    source.close()
    archive = tmp_path / "moving.zip"
    runner = CliRunner()

    exported = runner.invoke(
        cli,
        [
            "export",
            str(archive),
            "--store",
            source_url,
            "--files-dir",
            str(tmp_path / "source-files"),
        ],
    )
    imported = runner.invoke(
        cli, ["import", str(archive), "--store", pg_url, "--files-dir", str(tmp_path / "pg-files")]
    )

    assert 0 == exported.exit_code, exported.output
    assert "exported 1 experiment(s), 3 run(s), 3 metric column(s), 1 file(s)" in exported.output
    assert 0 == imported.exit_code, imported.output
    assert "imported 3 run(s), 25006 metric point(s), 1 file(s)" in imported.output
    with zipfile.ZipFile(archive) as opened:
        assert {"format": "runlog-archive", "version": 1, "vectors": "parquet"} == json.loads(
            opened.read("manifest.json")
        )
    target = open_store(pg_url)
    try:
        assert expected == snapshot(target, LocalFileStore(tmp_path / "pg-files"))
    finally:
        target.close()


def test_import_refuses_what_is_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "x.zip"
    with zipfile.ZipFile(bogus, "w") as opened:
        opened.writestr("manifest.json", '{"format": "other"}')

    result = CliRunner().invoke(
        cli, ["import", str(bogus), "--store", f"sqlite:///{tmp_path / 'db.db'}"]
    )

    assert 1 == result.exit_code
    assert "is not a runlog archive of version 1" in result.output
