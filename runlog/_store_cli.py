"""``runlog db upgrade``, ``gc``, ``export``, ``import``: commands on a store itself.

They need the collector's libraries (``pip install 'runlog-ml[collector]'``) and the store's
URL (``--store``, env ``RUNLOG_STORE``; default: SQLite in ``--data-dir``), not a running
collector.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from runlog import conventions as c

F = TypeVar("F", bound=Callable[..., Any])


def store_options(command: F) -> F:
    """``--store`` and ``--data-dir``, as the collector takes them."""
    command = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"The collector's data directory, for its SQLite store [env {c.ENV_DATA_DIR}; "
        "default ./runlog-data].",
    )(command)
    return click.option(
        "--store",
        "store",
        envvar=c.ENV_STORE,
        metavar="URL",
        help=f"Store URL, e.g. postgresql://runlog@db-host/runlog [env {c.ENV_STORE}; "
        "default SQLite in --data-dir].",
    )(command)


def resolve_store(store: str | None, data_dir: Path | None) -> str:
    """The store URL the options name."""
    if store:
        return store
    folder = data_dir or Path(os.environ.get(c.ENV_DATA_DIR) or "runlog-data")
    return f"sqlite:///{(folder / 'runlog.db').expanduser().resolve()}"


def _collectors_store() -> Any:
    try:
        import collectors.store as store_module
    except ImportError as exc:
        raise click.ClickException(
            f"this command needs the collector's libraries (missing {exc.name}); "
            "install them with `pip install 'runlog-ml[collector]'`"
        ) from exc
    return store_module


@click.group()
def db() -> None:
    """Manage the store's database schema."""


@db.command()
@store_options
@click.option("--revision", default="head", show_default=True, help="Schema revision to move to.")
def upgrade(store: str | None, data_dir: Path | None, revision: str) -> None:
    """Move the store's schema to the newest revision (run once before starting collectors
    on a new or older PostgreSQL store; they wait for each other if started together)."""
    url = resolve_store(store, data_dir)
    store_module = _collectors_store()
    before, after = store_module.upgrade_schema(url, revision)
    shown = store_module.sql.safe_url(url)
    if before == after:
        click.echo(f"{shown}: schema already at revision {after}")
    else:
        click.echo(f"{shown}: schema upgraded from revision {before or '(empty)'} to {after}")


def _files_root(data_dir: Path | None, files_dir: Path | None) -> Path:
    folder = data_dir or Path(os.environ.get(c.ENV_DATA_DIR) or "runlog-data")
    return files_dir or folder / "files"


_FILES_DIR = click.option(
    "--files-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the collector keeps uploaded files [default: files/ in --data-dir].",
)


@click.command()
@store_options
@_FILES_DIR
@click.option(
    "--grace-days",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Days a deleted run stays restorable (and a stray file is kept).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def gc(
    store: str | None,
    data_dir: Path | None,
    files_dir: Path | None,
    grace_days: float,
    dry_run: bool,
) -> None:
    """Remove runs deleted more than --grace-days ago with their files, and file blobs
    no run refers to."""
    url = resolve_store(store, data_dir)
    store_module = _collectors_store()
    from collectors.store.retention import collect_garbage

    files_root = _files_root(data_dir, files_dir)
    opened = store_module.open_store(url)
    try:
        report = collect_garbage(opened.engine, files_root, grace_days * 86_400, dry_run=dry_run)
    finally:
        opened.close()
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {len(report.runs)} deleted run(s) and {len(report.files)} file(s) "
        f"({report.bytes} bytes)"
    )
    for run_id in report.runs:
        click.echo(f"  run {run_id}")


@click.command(name="export")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@store_options
@_FILES_DIR
@click.option("-e", "--experiment", "experiments", multiple=True, help="Only this experiment.")
def export_(
    archive: Path,
    store: str | None,
    data_dir: Path | None,
    files_dir: Path | None,
    experiments: tuple[str, ...],
) -> None:
    """Write experiments and runs (metadata, vectors as Parquet, logs, spans, files) to the
    zip file ARCHIVE, which `runlog import` reads into any store."""
    store_module = _collectors_store()
    from collectors.store.archive import export_archive

    opened = store_module.open_store(resolve_store(store, data_dir))
    try:
        files = store_module.LocalFileStore(_files_root(data_dir, files_dir))
        counts = export_archive(opened, files, archive, list(experiments) or None)
    finally:
        opened.close()
    click.echo(
        f"exported {counts['experiments']} experiment(s), {counts['runs']} run(s), "
        f"{counts['vectors']} metric column(s), {counts['files']} file(s) to {archive}"
    )


@click.command(name="import")
@click.argument(
    "archive", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--from-mlflow",
    "mlflow_uri",
    metavar="URI",
    help="Copy from a running MLflow tracking server instead (e.g. http://mlflow-host:5000).",
)
@click.option(
    "-e", "--experiment", "experiments", multiple=True, help="Only this experiment (MLflow)."
)
@store_options
@_FILES_DIR
def import_(
    archive: Path | None,
    mlflow_uri: str | None,
    experiments: tuple[str, ...],
    store: str | None,
    data_dir: Path | None,
    files_dir: Path | None,
) -> None:
    """Read ARCHIVE (written by `runlog export`) or an MLflow server's experiments, runs,
    params, tags, metric histories and artifacts (--from-mlflow) into the store."""
    if (archive is None) == (mlflow_uri is None):
        raise click.UsageError("give either ARCHIVE or --from-mlflow URI")
    store_module = _collectors_store()
    opened = store_module.open_store(resolve_store(store, data_dir))
    try:
        files = store_module.LocalFileStore(_files_root(data_dir, files_dir))
        if archive is not None:
            from collectors.store.archive import import_archive

            counts, source = import_archive(opened, files, archive), str(archive)
        else:
            from collectors.store.mlflow_import import import_from_mlflow

            source = str(mlflow_uri)
            counts = import_from_mlflow(opened, files, source, list(experiments) or None)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        opened.close()
    click.echo(
        f"imported {counts['runs']} run(s), {counts['points']} metric point(s), "
        f"{counts['files']} file(s) from {source}"
    )
