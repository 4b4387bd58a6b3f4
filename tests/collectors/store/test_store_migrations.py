"""Alembic migrations: a fresh database gets the schema; re-opening changes nothing."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from collectors.ops import EnsureRun
from collectors.store import SQLStore, open_store
from collectors.store.schema import metadata

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
