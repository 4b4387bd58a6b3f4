"""Retention (``runlog gc``): deleted runs go after the grace period with their files;
stray file blobs go once old; everything else stays (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from click.testing import CliRunner

from collectors.ops import AppendPoints, EnsureRun, RecordFile, SetRunLifecycle, SetTag
from collectors.store import SQLStore, schema
from collectors.store.retention import collect_garbage
from runlog.cli import cli

DAY = 86_400.0
NOW = time.time()


def fill(store: SQLStore, files: Path) -> None:
    """Three runs with a file each: kept, deleted 40 days ago, deleted an hour ago; and two
    files no run records, one old and one new."""
    one = np.array([1], dtype=np.int64)
    for run_id in ("keep", "old-deleted", "new-deleted"):
        (files / run_id).mkdir(parents=True)
        (files / run_id / "model.bin").write_bytes(b"x" * 10)
        store.apply(
            [
                [
                    EnsureRun(run_id, "e", 1),
                    SetTag(run_id, "k", "v"),
                    AppendPoints(run_id, "loss", "scalar", "f8", one, one, np.array([0.5])),
                    RecordFile(run_id, "e", "model.bin", 10, "ab", 1),
                ]
            ]
        )
    store.apply(
        [[SetRunLifecycle("old-deleted", "deleted"), SetRunLifecycle("new-deleted", "deleted")]]
    )
    with store.engine.begin() as conn:
        for run_id, seen in (("old-deleted", NOW - 40 * DAY), ("new-deleted", NOW - 3600)):
            update = sa.update(schema.runs).where(schema.runs.c.run_id == run_id)
            conn.execute(update.values(last_seen_ns=int(seen * 1e9)))
    for name, age in (("stray-old", 40 * DAY), ("stray-new", 60.0)):
        path = files / "keep" / name
        path.write_bytes(b"y" * 5)
        os.utime(path, (NOW - age, NOW - age))


def test_gc_removes_expired_deleted_runs_and_stray_files(store: SQLStore, tmp_path: Path) -> None:
    files = tmp_path / "files"
    fill(store, files)

    dry = collect_garbage(store.engine, files, 30 * DAY, dry_run=True, now_s=NOW)
    report = collect_garbage(store.engine, files, 30 * DAY, now_s=NOW)

    assert (["old-deleted"], 2, 15) == (dry.runs, len(dry.files), dry.bytes)
    assert (["old-deleted"], 15) == (report.runs, report.bytes)
    assert store.get_run("old-deleted") is None
    assert store.read_metric("old-deleted", "loss") is None
    assert store.list_files("old-deleted") == []
    assert store.get_run("new-deleted") is not None  # still inside its grace period
    assert {"keep", "new-deleted"} == {p.name for p in files.iterdir()}
    assert ["model.bin", "stray-new"] == sorted(p.name for p in (files / "keep").iterdir())
    assert [0.5] == store.read_metric("keep", "loss").values.tolist()
    with store.engine.connect() as conn:
        chunks = conn.execute(sa.select(sa.func.count()).select_from(schema.metric_chunks))
        assert 2 == chunks.scalar()


def test_runlog_gc_command(store: SQLStore, store_url: str, tmp_path: Path) -> None:
    files = tmp_path / "files"
    fill(store, files)

    result = CliRunner().invoke(
        cli, ["gc", "--store", store_url, "--files-dir", str(files), "--grace-days", "0"]
    )

    assert 0 == result.exit_code, result.output
    assert "removed 2 deleted run(s) and 4 file(s) (30 bytes)" in result.output
    assert store.get_run("new-deleted") is None
