"""The ``runlog`` command: start the collector, list and inspect runs, logs, fetch files,
list registered models.

Exit codes: 0 ok, 1 not found or runtime error, 2 usage error, 3 collector (or, for the
commands on a store, its database) unreachable.
Errors go to stderr as one line; ``--json`` prints machine-readable JSON on stdout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from runlog import _cli_compute, _tables
from runlog import conventions as c
from runlog._models_cli import models
from runlog._store_cli import db, export_, gc, import_
from runlog.exceptions import (
    CollectorUnavailableError,
    ConfigError,
    RunlogError,
)

if TYPE_CHECKING:
    from runlog.client import Client

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class CommandFailed(click.ClickException):
    """A one-line error: not found, refused, or failed at run time (exit code 1)."""

    exit_code = EXIT_ERROR


class Unreachable(CommandFailed):
    """The collector cannot be reached or failed (exit code 3)."""

    exit_code = EXIT_UNREACHABLE


class BadSetting(CommandFailed):
    """An endpoint or config file is malformed: a usage error (exit code 2)."""

    exit_code = EXIT_USAGE


class RunlogGroup(click.Group):
    """Turns runlog's exceptions into one-line errors with meaningful exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except CollectorUnavailableError as exc:
            raise Unreachable(str(exc)) from exc
        except ConnectionError as exc:  # the store's database (collector, db, gc, export…)
            raise Unreachable(str(exc)) from exc
        except ConfigError as exc:
            raise BadSetting(str(exc)) from exc
        except (RunlogError, OSError) as exc:
            raise CommandFailed(str(exc) or type(exc).__name__) from exc
        except Exception as exc:  # the CLI promises no tracebacks, even for runlog's bugs
            raise CommandFailed(
                f"unexpected {type(exc).__name__}: {exc} (a bug in runlog; please report it)"
            ) from exc


@dataclasses.dataclass(slots=True)
class Options:
    """The global options, handed to every command."""

    endpoint: str | None
    token: str | None

    def client(self) -> Client:
        from runlog.client import Client

        return Client(self.endpoint, self.token)


pass_options = click.make_pass_decorator(Options)


@click.group(cls=RunlogGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--endpoint",
    envvar=c.ENV_ENDPOINT,
    metavar="URL",
    help=f"Collector URL [env {c.ENV_ENDPOINT}; default {c.DEFAULT_ENDPOINT}].",
)
@click.option(
    "--token",
    envvar=c.ENV_TOKEN,
    metavar="TOKEN",
    help=f"Bearer token for the collector [env {c.ENV_TOKEN}].",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, _param, value: _print_version(ctx, value),
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context, endpoint: str | None, token: str | None) -> None:
    """Experiment tracking on the logging you already have."""
    ctx.obj = Options(endpoint, token)


def _print_version(ctx: click.Context, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("runlog")
    except PackageNotFoundError:
        found = "(not installed; running from source)"
    click.echo(f"runlog {found}")
    ctx.exit()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="runlog")


# --- collector and sync -------------------------------------------------------------------


@cli.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar=c.ENV_DATA_DIR,
    help=f"Where the store and files live [env {c.ENV_DATA_DIR}; default ./runlog-data].",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; a non-loopback address needs --token.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=c.DEFAULT_HTTP_PORT,
    show_default=True,
    help="OTLP/HTTP, files and query API port.",
)
@click.option(
    "--grpc-port",
    type=click.IntRange(0, 65535),
    default=c.DEFAULT_GRPC_PORT,
    show_default=True,
    help="OTLP/gRPC port.",
)
@click.option("--no-grpc", is_flag=True, help="Do not start the OTLP/gRPC receiver.")
@click.option(
    "--token",
    "own_token",
    metavar="TOKEN",
    help="Require this bearer token (default: the global --token / RUNLOG_TOKEN).",
)
@click.option(
    "--max-body-mb",
    type=click.IntRange(min=1),
    default=None,
    metavar="MB",
    help="Largest request body, decompressed [default 64].",
)
@click.option("--no-replay", is_flag=True, help="Do not replay this machine's disk spool.")
@click.option(
    "--heartbeat-timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="A run that sends heartbeats is NotResponding after this much silence (0: never).",
)
@click.option(
    "--dead-after",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="A NotResponding run is Failed after this much more silence.",
)
@click.option("--no-local-execution", is_flag=True, help="Refuse submitted runs on this host.")
@click.option(
    "--max-local-runs",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Submitted runs run here at a time; the rest wait in the queue.",
)
@click.option(
    "--ray-address", envvar="RAY_ADDRESS", metavar="URL", help="Ray job API: adds the ray target."
)
@click.option(
    "--max-ray-runs",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Runs handed to Ray at a time.",
)
@click.option(
    "--cancel-grace",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds between SIGTERM and SIGKILL when a run is canceled.",
)
@pass_options
def collector(
    opts: Options,
    data_dir: str | None,
    host: str,
    port: int,
    grpc_port: int,
    no_grpc: bool,
    own_token: str | None,
    max_body_mb: int | None,
    no_replay: bool,
    heartbeat_timeout: float,
    dead_after: float,
    no_local_execution: bool,
    max_local_runs: int,
    ray_address: str | None,
    max_ray_runs: int,
    cancel_grace: float,
) -> None:
    """Start the collector sidecar (needs `pip install 'runlog[collector]'`)."""
    serve, settings_cls = _import_collector()
    values: dict[str, Any] = {
        "host": host,
        "port": port,
        "token": own_token or opts.token,
        "grpc_port": None if no_grpc else grpc_port,
        "replay_spool": not no_replay,
        "heartbeat_timeout_s": heartbeat_timeout,
        "dead_after_s": dead_after,
        "local_execution": not no_local_execution,
        "max_local_runs": max_local_runs,
        "ray_address": ray_address,
        "max_ray_runs": max_ray_runs,
        "cancel_grace_s": cancel_grace,
    }
    if data_dir:
        values["data_dir"] = Path(data_dir)
    if max_body_mb:
        values["max_body_bytes"] = max_body_mb * 1024 * 1024
    serve(settings_cls(**values))


def _import_collector() -> tuple[Callable[[Any], Any], type[Any]]:
    try:
        from collectors.server import serve
        from collectors.settings import Settings
    except ImportError as exc:
        raise CommandFailed(
            f"the collector needs its server libraries (missing {exc.name}); "
            "install them with `pip install 'runlog[collector]'`"
        ) from exc
    return serve, Settings


@cli.command()
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False),
    envvar=c.ENV_SPOOL_DIR,
    help=f"The spool to replay [env {c.ENV_SPOOL_DIR}; default ~/.runlog/spool].",
)
@pass_options
def sync(opts: Options, spool_dir: str | None) -> None:
    """Replay the disk spool (data logged while the collector was unreachable)."""
    from runlog import _config, _spool

    settings = _config.resolve(opts.endpoint, opts.token)
    result = _spool.sync(settings.endpoint, settings.token, spool_dir)
    click.echo(
        f"replayed {result.sent} spooled {_plural(result.sent, 'entry', 'entries')} "
        f"to {settings.endpoint}"
    )
    if result.failed:
        raise Unreachable(
            f"{result.left} {_plural(result.left, 'entry', 'entries')} stay "
            f"spooled: the collector at {settings.endpoint} did not take them; "
            "is it running? start it with `runlog collector`, then run "
            "`runlog sync` again"
        )


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


# --- experiments and runs -----------------------------------------------------------------


_INCLUDE_DELETED = "Also list what was deleted through MLflow."


@cli.command()
@click.option("--include-deleted", is_flag=True, help=_INCLUDE_DELETED)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def experiments(opts: Options, include_deleted: bool, as_json: bool) -> None:
    """List experiments."""
    with opts.client() as client:
        found = client.list_experiments(include_deleted)
    if as_json:
        _tables.print_json(found)
        return
    _tables.console().print(_tables.experiments_table(found))


@cli.command()
@click.option(
    "-e",
    "--experiment",
    "experiments_",
    multiple=True,
    metavar="EXP",
    help="Only runs of this experiment (repeatable).",
)
@click.option(
    "--filter",
    "filter_",
    metavar="EXPR",
    help="e.g. \"metrics.mse < 3000 and params.alpha = '0.5'\".",
)
@click.option(
    "--order-by",
    multiple=True,
    metavar="KEY [ASC|DESC]",
    help="e.g. 'metrics.mse ASC' (repeatable; default newest first).",
)
@click.option(
    "--max-results", type=click.IntRange(min=1), default=None, metavar="N", help="At most N runs."
)
@click.option(
    "--columns",
    metavar="KEYS",
    help="Comma-separated extra columns, e.g. metrics.mse,params.alpha.",
)
@click.option("--include-deleted", is_flag=True, help=_INCLUDE_DELETED)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def runs(
    opts: Options,
    experiments_: tuple[str, ...],
    filter_: str | None,
    order_by: tuple[str, ...],
    max_results: int | None,
    columns: str | None,
    include_deleted: bool,
    as_json: bool,
) -> None:
    """List runs, newest first unless --order-by says otherwise."""
    with opts.client() as client:
        found = client.search_runs(
            list(experiments_), filter_, list(order_by), max_results, include_deleted
        )
    if as_json:
        _tables.print_json(found)
        return
    if columns:
        extra = [k.strip() for k in columns.split(",") if k.strip()]
    else:
        extra = _tables.pick_columns(found, [*order_by, filter_ or ""])
    _tables.console().print(_tables.runs_table(found, extra))


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def show(opts: Options, run_id: str, as_json: bool) -> None:
    """Show one run: status, times, tags, params, properties, metrics and files."""
    with opts.client() as client:
        run = client.get_run(run_id)
        files = client.list_files(run_id)
        statuses = client.get_statuses(run_id)
        children = client.search_runs(filter=f"attributes.parent_id = '{run_id}'")
    if as_json:
        _tables.print_json({**run, "files": files, "statuses": statuses, "children": children})
        return
    console = _tables.console()
    console.print(_tables.details_grid(run))
    if len(statuses) > 1:
        console.print(_cli_compute.statuses_table(statuses))
    for title in ("tags", "params", "properties"):
        if run.get(title):
            console.print(_tables.key_values_table(title, run[title]))
    if run.get("metrics"):
        console.print(_tables.metrics_table(run["metrics"]))
    if files:
        console.print(_tables.files_table(files))
    if children:
        console.print(_tables.runs_table(children, []))


# --- metrics and files --------------------------------------------------------------------


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.argument("name", required=False)
@click.option("--column", default=None, help="Only this column of a row or table metric.")
@click.option(
    "--max-points",
    type=click.IntRange(min=2),
    default=None,
    metavar="N",
    help="Let the collector downsample each column to at most N points.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def metrics(
    opts: Options,
    run_id: str,
    name: str | None,
    column: str | None,
    max_points: int | None,
    as_json: bool,
) -> None:
    """Without NAME: the run's metric summaries. With NAME: its points."""
    with opts.client() as client:
        summaries = client.list_metrics(run_id)
        if name is None:
            _print_summaries(summaries, as_json)
            return
        columns = _columns_of(summaries, run_id, name, column)
        series = [client.get_metric(run_id, name, col, max_points) for col in columns]
    if as_json:
        _tables.print_json([dataclasses.asdict(s) for s in series])
    else:
        _tables.console().print(_tables.points_table(series))


def _print_summaries(summaries: Sequence[Mapping[str, Any]], as_json: bool) -> None:
    if as_json:
        _tables.print_json(summaries)
    else:
        _tables.console().print(_tables.metrics_table(summaries))


def _columns_of(
    summaries: Sequence[Mapping[str, Any]], run_id: str, name: str, column: str | None
) -> list[str]:
    columns = [str(s.get("column", "")) for s in summaries if s["name"] == name]
    if not columns:
        _fail(
            f"run {run_id!r} has no metric {name!r}; list its metrics with "
            f"`runlog metrics {run_id}`"
        )
    if column is None:
        return columns
    if column not in columns:
        _fail(
            f"metric {name!r} of run {run_id!r} has no column {column!r}; "
            f"its columns: {', '.join(repr(k) for k in columns)}"
        )
    return [column]


def _fail(message: str) -> NoReturn:
    raise CommandFailed(message)


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def files(opts: Options, run_id: str, as_json: bool) -> None:
    """List a run's files."""
    with opts.client() as client:
        found = client.list_files(run_id)
    if as_json:
        _tables.print_json(found)
    else:
        _tables.console().print(_tables.files_table(found))


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.argument("name", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    default=None,
    help="File or directory to write to (default: the file's name, here).",
)
@click.option("--snapshot", is_flag=True, help="The submitted run's source snapshot (a zip).")
@pass_options
def download(
    opts: Options, run_id: str, name: str | None, output: str | None, snapshot: bool
) -> None:
    """Download the run's file NAME (e.g. outputs/model.pkl), or its --snapshot."""
    if snapshot == (name is not None):
        raise click.UsageError("give a file NAME or --snapshot (one of them)")
    if snapshot:
        from runlog._snapshot import FILE_NAME

        name, output = FILE_NAME, output or f"{run_id}-snapshot.zip"
    assert name is not None  # one of the two, checked above
    with opts.client() as client:
        written = client.download_file(run_id, name, output)
    click.echo(written)


# --- logs and spans -------------------------------------------------------------------------


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the run ends.")
@click.option("--level", metavar="LEVEL", help="Only lines at LEVEL or above (e.g. WARN).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
@pass_options
def logs(opts: Options, run_id: str, follow: bool, level: str | None, as_json: bool) -> None:
    """Print a run's log lines (with -f, follow them like tail -f)."""
    import json

    with opts.client() as client:
        for line in client.iter_logs(run_id, follow=follow, level=level):
            click.echo(json.dumps(line) if as_json else _tables.log_line_text(line))


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_options
def spans(opts: Options, run_id: str, as_json: bool) -> None:
    """Show a run's timeline: its spans with start, duration and status."""
    with opts.client() as client:
        found = client.get_spans(run_id)
    if as_json:
        _tables.print_json(found)
    else:
        _tables.console().print(_tables.spans_table(found))


# --- launch a command as a run --------------------------------------------------------------


@cli.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("-e", "--experiment", metavar="NAME", help="Experiment [env RUNLOG_EXPERIMENT].")
@click.option("--name", metavar="NAME", help="Display name [default: the program's name].")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Set a tag (repeatable).")
@click.option(
    "--no-autolog", is_flag=True, help="Do not auto-instrument scikit-learn, PyTorch, logging."
)
@click.option(
    "--outputs",
    default="outputs",
    show_default=True,
    metavar="DIR",
    help="Folder uploaded to the run when the command ends.",
)
@click.option("--run-id", metavar="RUN", help="Launch into this existing (submitted) run.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_options
def run_command(
    opts: Options,
    experiment: str | None,
    name: str | None,
    tags: tuple[str, ...],
    no_autolog: bool,
    outputs: str,
    run_id: str | None,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND as a run: runlog run -e EXP -- python train.py ARGS.

    Auto-instruments the launched Python (no change to the script), records its stdout and
    stderr while still showing them, the command line, Python and package versions, the git
    commit; uploads DIR at the end; the run's status follows the exit code, which is also
    runlog's own (128+N when killed by signal N; 127 when the command is not found).
    """
    from runlog._launch import Launch, launch
    from runlog.workspace import Workspace

    request = Launch(
        command,
        experiment=experiment,
        name=name,
        tags=_parse_tags(tags),
        autolog="0" if no_autolog else ",".join(c.AUTOLOG_NAMES),
        outputs=outputs,
        run_id=run_id,
    )
    code = launch(request, Workspace(opts.endpoint, opts.token))
    raise click.exceptions.Exit(code)


@cli.command()
@click.argument("run_id", metavar="RUN", required=False)
@click.option("--no-browser", is_flag=True, help="Only print the URL.")
@pass_options
def ui(opts: Options, run_id: str | None, no_browser: bool) -> None:
    """Open the collector's web studio in a browser: its experiments, or the page of RUN."""
    import webbrowser
    from urllib.parse import quote

    with opts.client() as client:
        client.health()  # unreachable: exit 3 with the reason, not a dead page
        if run_id is not None:
            client.get_run(run_id)  # unknown: exit 1 with the reason
        url = client.endpoint.rstrip("/") + "/"
    if run_id is not None:
        url += f"#/runs/{quote(run_id)}"
    click.echo(url)
    if not no_browser and not webbrowser.open(url):
        click.echo("(no browser found here: open the URL above)", err=True)


def _parse_tags(pairs: Sequence[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE, e.g. --tag team=vision")
        tags[key.strip()] = value
    return tags


cli.add_command(models)  # runlog/_models_cli.py
cli.add_command(db)  # runlog/_store_cli.py
cli.add_command(gc)
cli.add_command(export_)
cli.add_command(import_)
_cli_compute.register(cli, pass_options, _parse_tags)

if __name__ == "__main__":  # pragma: no cover
    main()
