"""Alembic migrations: a fresh database gets the schema; re-opening changes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner

from collectors.ops import AppendPoints, EnsureRun
from collectors.store import SQLStore, open_store, schema, upgrade_schema
from collectors.store._points import Part, chunk_rows
from collectors.store.schema import metadata
from runlog import conventions as cv
from runlog.cli import cli

TABLES = {
    "logged_model_files",
    "logged_model_metrics",
    "model_version_tags",
    "model_versions",
    "registered_model_aliases",
    "registered_model_tags",
    "registered_models",
    "alembic_version",
    "batches",
    "experiment_tags",
    "experiments",
    "files",
    "log_lines",
    "logged_models",
    "metric_chunks",
    "metrics",
    "params",
    "properties",
    "run_io",
    "run_statuses",
    "runs",
    "snapshots",
    "spans",
    "submissions",
    "tags",
}


def test_fresh_database_gets_every_table_at_head(store: SQLStore) -> None:
    with store.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        version = MigrationContext.configure(conn).get_current_revision()

    assert (tables, version) == (TABLES, "0006")


def test_migrations_match_the_schema_module(store: SQLStore) -> None:
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)

    assert differences == []


def test_indexes_for_search_exist(store: SQLStore) -> None:
    with store.engine.connect() as conn:
        inspector = sa.inspect(conn)
        runs = {ix["name"] for ix in inspector.get_indexes("runs")}
        metrics = {ix["name"] for ix in inspector.get_indexes("metrics")}

    assert {"ix_runs_experiment_start", "ix_runs_start", "ix_runs_parent"} <= runs
    assert "ix_metrics_name" in metrics


def test_reopening_keeps_data_and_version(store_url: str) -> None:
    first = open_store(store_url)
    first.apply([[EnsureRun("r1", "exp", 5)]])
    first.close()

    second = open_store(store_url)
    run = second.get_run("r1")
    with second.engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    second.close()

    assert run is not None and run.start_ns == 5
    assert [tuple(v) for v in versions] == [("0006",)]


def test_open_store_accepts_a_plain_path(tmp_path: Path) -> None:
    store = open_store(tmp_path / "nested" / "dir" / "runlog.db")
    try:
        store.apply([[EnsureRun("r1", "exp", 5)]])
        with store.engine.connect() as conn:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            foreign_keys = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    finally:
        store.close()

    assert (tmp_path / "nested" / "dir" / "runlog.db").is_file()
    assert (journal, foreign_keys) == ("wal", 1)


def test_in_memory_sqlite_works() -> None:
    store = SQLStore("sqlite://")
    try:
        store.apply([[EnsureRun("r1", "exp", 5)]])
        assert [run.run_id for run in store.search_runs().runs] == ["r1"]
    finally:
        store.close()


# --- upgrading a store made by the first revision ------------------------------------------


def fill_first_revision(url: str) -> None:
    """Rows as a collector of schema revision 0001 wrote them: a run, its tag, param and
    a 25,000-point metric in three chunks (the last one short)."""
    steps = np.arange(25_000, dtype=np.int64)
    part = Part(cv.DTYPE_FLOAT, steps, steps * 10, steps * 0.5)
    bits = int(np.array([12_499.5]).view(np.int64)[0])  # the last value, bit for bit
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(schema.experiments.insert(), {"id": 1, "name": "old", "created_ns": 1})
        run = {"run_id": "r-old", "experiment_id": 1, "name": "first", "status": "Completed"}
        conn.execute(sa.insert(_runs_0001), {**run, "start_ns": 2, "end_ns": 3})
        conn.execute(schema.tags.insert(), {"run_id": "r-old", "key": "team", "value": "a"})
        conn.execute(schema.params.insert(), {"run_id": "r-old", "key": "lr", "value": "0.1"})
        metric = {"id": 1, "run_id": "r-old", "name": "loss", "column": "", "kind": "scalar"}
        metric.update(dtype="f8", count=25_000, last_dtype="f8", last_f8=12_499.5, last_bits=bits)
        metric.update(last_step=24_999, last_time_ns=249_990, min_value=0.0, max_value=12_499.5)
        conn.execute(sa.insert(_metrics_0001), metric)
        conn.execute(schema.metric_chunks.insert(), chunk_rows(1, 0, [part]))
    engine.dispose()


_runs_0001 = sa.table(
    "runs",
    *(sa.column(n) for n in ("run_id", "experiment_id", "name", "status")),
    sa.column("start_ns"),
    sa.column("end_ns"),
)
_metrics_0001 = sa.table(
    "metrics",
    *(sa.column(n) for n in ("id", "run_id", "name", "column", "kind", "dtype", "count")),
    *(sa.column(n) for n in ("last_dtype", "last_f8", "last_bits", "last_step")),
    sa.column("last_time_ns"),
    sa.column("min_value"),
    sa.column("max_value"),
)


def test_db_upgrade_moves_a_first_revision_store_with_its_data(store_url: str) -> None:
    assert (None, "0001") == upgrade_schema(store_url, "0001")
    fill_first_revision(store_url)

    result = CliRunner().invoke(cli, ["db", "upgrade", "--store", store_url])
    store = open_store(store_url, migrate=False)  # refuses anything but the newest schema
    try:
        run = store.get_run("r-old")
        vector = store.read_metric("r-old", "loss")
        one = np.array([25_000], dtype=np.int64)
        store.apply([[AppendPoints("r-old", "loss", "scalar", "f8", one, one, np.array([7.0]))]])
        summary = store.list_metrics("r-old")[0]
    finally:
        store.close()

    assert 0 == result.exit_code, result.output
    assert "schema upgraded from revision 0001 to 0006" in result.output
    assert run is not None
    assert ("first", "Completed", {"team": "a"}, {"lr": "0.1"}) == (
        run.name,
        run.status,
        run.tags,
        run.params,
    )
    assert vector is not None
    assert (np.arange(25_000) * 0.5).tolist() == vector.values.tolist()
    assert (25_001, 7.0, 0.0, 12_499.5) == (summary.count, summary.last, summary.min, summary.max)
    assert (
        "already at revision 0006"
        in CliRunner().invoke(cli, ["db", "upgrade", "--store", store_url]).output
    )
