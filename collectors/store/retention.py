"""Retention (``runlog gc``): purge deleted runs and file blobs nothing refers to.

A run deleted through MLflow's ``delete_run`` (lifecycle stage ``deleted``) stays
restorable for a grace period; after it, `collect_garbage` removes its rows (tags, params,
metrics and their chunks, log lines, spans, status history, file records, submissions) and
its folder of uploaded files. The store keeps no deletion time: the grace period counts
from the run's last sign of life (``last_seen_ns``, which the delete itself updates), or
its end or start for runs from before liveness was recorded. Child runs of a purged run
are runs of their own and stay.

Files on disk under the files root with no record in the store (an upload whose commit
failed, a run folder left behind) are removed once older than the grace period, so an
upload in progress is never touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from collectors.store import _locks, schema

__all__ = ["GcReport", "collect_garbage"]

_r = schema.runs
#: Tables whose rows belong to one run (deleted before the run row).
_RUN_TABLES = (
    schema.tags,
    schema.params,
    schema.properties,
    schema.files,
    schema.log_lines,
    schema.spans,
    schema.run_io,
    schema.run_statuses,
    schema.submissions,
)


@dataclass(slots=True)
class GcReport:
    """What `collect_garbage` removed (or would remove, on a dry run)."""

    runs: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    bytes: int = 0


def collect_garbage(
    engine: sa.Engine,
    files_root: Path | None,
    grace_s: float,
    *,
    dry_run: bool = False,
    now_s: float | None = None,
) -> GcReport:
    """Purge runs deleted more than *grace_s* ago, and unreferenced files under
    *files_root* (``<root>/<run_id>/<path>``) older than that.

    Args:
        engine: the store's engine (`SQLStore.engine`).
        files_root: the local file store's root, or None to leave files alone.
        grace_s: seconds a deleted run stays restorable (and a stray file is kept).
        dry_run: report without removing anything.
        now_s: the current time (for tests).
    """
    now = time.time() if now_s is None else now_s
    cutoff_ns = int((now - grace_s) * 1e9)
    report = GcReport()
    with engine.connect() as conn:
        conn.execution_options(runlog_write=True)
        with conn.begin():
            report.runs = _expired_runs(conn, cutoff_ns)
            if report.runs and not dry_run:
                _locks.take_run_locks(conn, report.runs)
                _purge_runs(conn, report.runs)
            referenced = _referenced_files(conn) if files_root is not None else set()
    if files_root is not None and files_root.is_dir():
        purged = set(report.runs)
        for path in sorted(files_root.rglob("*")):
            if not path.is_file():
                continue
            run_id, relative = path.relative_to(files_root).parts[0], path.relative_to(files_root)
            key = (run_id, "/".join(relative.parts[1:]))
            stray = key not in referenced and path.stat().st_mtime < now - grace_s
            if run_id in purged or stray:
                report.files.append(path)
                report.bytes += path.stat().st_size
                if not dry_run:
                    path.unlink()
        if not dry_run:
            _remove_empty_folders(files_root)
    return report


def _expired_runs(conn: sa.Connection, cutoff_ns: int) -> list[str]:
    seen = sa.func.coalesce(_r.c.last_seen_ns, _r.c.end_ns, _r.c.start_ns)
    query = sa.select(_r.c.run_id).where(_r.c.lifecycle_stage == "deleted", seen < cutoff_ns)
    return list(conn.execute(query.order_by(_r.c.run_id)).scalars())


def _purge_runs(conn: sa.Connection, run_ids: list[str]) -> None:
    metric_ids = sa.select(schema.metrics.c.id).where(schema.metrics.c.run_id.in_(run_ids))
    conn.execute(
        sa.delete(schema.metric_chunks).where(schema.metric_chunks.c.metric_id.in_(metric_ids))
    )
    conn.execute(sa.delete(schema.metrics).where(schema.metrics.c.run_id.in_(run_ids)))
    for table in _RUN_TABLES:
        conn.execute(sa.delete(table).where(table.c.run_id.in_(run_ids)))
    conn.execute(sa.delete(_r).where(_r.c.run_id.in_(run_ids)))


def _referenced_files(conn: sa.Connection) -> set[tuple[str, str]]:
    f = schema.files
    return {(row[0], row[1]) for row in conn.execute(sa.select(f.c.run_id, f.c.path))}


def _remove_empty_folders(root: Path) -> None:
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
