"""``runlog models [NAME]``: the collector's model registry as tables.

Registered on the ``runlog`` group by `runlog.cli`; the global options (endpoint, token)
arrive as the click context's object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from runlog import _cli_render

if TYPE_CHECKING:
    from rich.table import Table


@click.command("models")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def models(opts: Any, name: str | None, as_json: bool) -> None:
    """List registered models, or the versions of model NAME.

    The registry is the one MLflow clients use: versions registered with
    run.register_model(...) or mlflow.register_model(...) alike.
    """
    with opts.client() as client:
        found: Any = client.get_model(name) if name else client.list_models()
    if as_json:
        _cli_render.print_json(found)
        return
    console = _cli_render.console()
    if name is None:
        if not found:
            click.echo("No registered models yet: register one with run.register_model(...).")
            return
        console.print(models_table(found))
        return
    console.print(versions_table(found))


def models_table(found: Sequence[Mapping[str, Any]]) -> Table:
    """A table of registered models: name, latest version, count, aliases, updated."""
    columns = ("model", "latest", "versions", "aliases", "updated", "description")
    table = _cli_render.new_table(*columns)
    rows = []
    for model in found:
        latest = model.get("latest_version")
        rows.append(
            (
                model["name"],
                "-" if latest is None else str(latest),
                str(model.get("version_count", 0)),
                _aliases(model.get("aliases") or {}),
                _cli_render.fmt_time(model.get("updated_ns")),
                model.get("description") or "",
            )
        )
    for row in rows:
        table.add_row(*row)
    _keep_whole(table, rows, (0, 4))
    return table


def versions_table(model: Mapping[str, Any]) -> Table:
    """A table of one model's versions: number, stage, aliases, when, where from, tags.

    "from" is the run and the path registered from it, or the MLflow source (a logged
    model) for versions MLflow registered; identifiers are never cut.
    """
    title = f"{model['name']}" + (f" — {model['description']}" if model.get("description") else "")
    table = _cli_render.new_table(
        "version", "stage", "aliases", "registered", "from", "tags / description", title=title
    )
    rows = []
    for version in model.get("versions", []):
        labels = {**version.get("properties", {}), **version.get("tags", {})}
        about = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
        if version.get("description"):
            about = f"{about}\n{version['description']}" if about else version["description"]
        origin = [version.get("path") or version.get("source") or ""]
        if version.get("run_id"):
            origin.insert(0, f"run {version['run_id']}")
        rows.append(
            (
                str(version["version"]),
                version.get("stage") or "None",
                ", ".join(version.get("aliases") or []),
                _cli_render.fmt_time(version.get("created_ns")),
                "\n".join(origin),
                about,
            )
        )
    for row in rows:
        table.add_row(*row)
    _keep_whole(table, rows, (4,))
    return table


def _keep_whole(table: Table, rows: Sequence[Sequence[str]], columns: Sequence[int]) -> None:
    """Never cut or wrap these columns (identifiers a person must be able to copy)."""
    for index in columns:
        column = table.columns[index]
        column.no_wrap = True
        lines = [line for row in rows for line in row[index].splitlines()]
        column.min_width = max([len(str(column.header)), *map(len, lines)])


def _aliases(aliases: Mapping[str, int]) -> str:
    return ", ".join(f"{alias}→{version}" for alias, version in sorted(aliases.items()))
