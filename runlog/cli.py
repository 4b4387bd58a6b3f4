"""The ``runlog`` command: start the collector, list and inspect runs, logs, fetch files,
list registered models.

Exit codes: 0 ok, 1 not found or runtime error, 2 usage error, 3 collector (or, for the
commands on a store, its database) unreachable.
Errors go to stderr as one line; ``--json`` prints machine-readable JSON on stdout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from collectors.cli_args import command as collector_command
from runlog import _cli_compute, _cli_render
from runlog import conventions as c
from runlog._models_cli import models
from runlog._store_cli import db, export_, gc, import_
from runlog.exceptions import (
    CollectorUnavailableError,
    ConfigError,
    RunlogError,
)
from runlog.extras import DISTRIBUTION
from runlog.filters import children_of

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
#: The RUN argument of the commands about one run.
_run_argument = click.argument("run_id", metavar="RUN")
#: The RUN... argument of the commands that change runs one by one.
_run_ids_argument = click.argument("run_ids", metavar="RUN...", nargs=-1, required=True)


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
        found = version(DISTRIBUTION)
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
    "--spool-dir",
    type=click.Path(file_okay=False),
    envvar=c.ENV_SPOOL_DIR,
    help=f"The spool to replay [env {c.ENV_SPOOL_DIR}; default ~/.runlog/spool].",
)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Send every entry to this endpoint, whichever collector it names "
    "(after a collector moved, or when the endpoint was mistyped).",
)
@pass_options
def sync(opts: Options, spool_dir: str | None, everything: bool) -> None:
    """Send the disk spool's entries to the collectors they were meant for.

    Each entry names its collector; entries of this endpoint (and old entries, which name
    none) go here with the token, others go to their own collector. What cannot be
    delivered stays spooled and is listed; corrupt entries are set aside in quarantine/.
    """
    from runlog import _config, spool

    settings = _config.resolve(opts.endpoint, opts.token)
    result = spool.sync(settings.endpoint, settings.token, spool_dir, everything)
    if not result.delivered:
        click.echo(f"replayed 0 spooled entries to {settings.endpoint}")
    for endpoint, count in result.delivered.items():
        click.echo(f"replayed {count} spooled {_plural(count, 'entry', 'entries')} to {endpoint}")
    for path in result.quarantined:
        click.echo(f"set aside a corrupt entry: {path}")
    for endpoint, (left, why) in result.undelivered.items():
        click.echo(
            f"could not deliver {left} {_plural(left, 'entry', 'entries')} to {endpoint}: {why}",
            err=True,
        )
    if result.undelivered:
        raise Unreachable(
            f"{result.left} {_plural(result.left, 'entry', 'entries')} stay spooled: their "
            "collector did not take them; is it running? start it with `runlog collector`, "
            "then run `runlog sync` again"
        )


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


# --- experiments and runs -----------------------------------------------------------------


_INCLUDE_DELETED = "Also list what was deleted through MLflow."


@cli.command()
@click.option("--include-deleted", is_flag=True, help=_INCLUDE_DELETED)
@_cli_render.json_option
@pass_options
def experiments(opts: Options, include_deleted: bool, as_json: bool) -> None:
    """List experiments."""
    with opts.client() as client:
        found = client.list_experiments(include_deleted)
    _cli_render.print_found(found, as_json, _cli_render.experiments_table)


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
@_cli_render.json_option
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
        if not found and experiments_:
            _unknown_experiments(client, experiments_)
    if as_json:
        _cli_render.print_json(found)
        return
    if not found:  # say why there is nothing, on stderr (stdout stays the empty table)
        click.echo(_why_no_runs(experiments_, filter_), err=True)
    console = _cli_render.console()
    if columns:  # asked for: all of them, however wide
        extra, width = [k.strip() for k in columns.split(",") if k.strip()], None
    else:
        extra = _cli_render.pick_columns(found, [*order_by, filter_ or ""])
        width = console.width
    table, left_out = _cli_render.runs_table(found, extra, len(experiments_) != 1, width)
    console.print(table)
    if left_out:
        console.print(_cli_render.left_out_note(left_out))


def _why_no_runs(experiments_: Sequence[str], filter_: str | None) -> str:
    if filter_:
        return _status_hint(filter_) or f"no runs match the filter {filter_!r}"
    if experiments_:
        return f"no runs in {', '.join(repr(e) for e in experiments_)} yet"
    return "no runs yet: log one (README, 'The run API') or start one with `runlog run`"


def _status_hint(filter_: str) -> str | None:
    """A hint when the filter compares the status with a wrongly cased status name."""
    import re

    statuses = {name.lower(): name for name in c.STATUSES}
    for value in re.findall(
        r"\bstatus\s*(?:!?=|LIKE|IN\s*\()\s*['\"]([^'\"]*)['\"]", filter_, re.I
    ):
        proper = statuses.get(value.lower())
        if proper and proper != value:
            return f"no runs: statuses are case-sensitive; did you mean '{proper}'?"
    return None


def _unknown_experiments(client: Client, asked: Sequence[str]) -> None:
    """No runs: say so when an experiment asked for does not exist (a typo, usually)."""
    names = [str(e["name"]) for e in client.list_experiments(True)]
    unknown = [name for name in asked if name not in names]
    if unknown:
        known = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        _fail(
            f"no experiment {unknown[0]!r} (experiments: {known or 'none yet'}); "
            "list them with `runlog experiments`"
        )


@cli.command()
@_run_argument
@_cli_render.json_option
@pass_options
def show(opts: Options, run_id: str, as_json: bool) -> None:
    """Show one run: status, times, tags, params, properties, metrics and files."""
    with opts.client() as client:
        run = client.get_run(run_id)
        files = client.list_files(run_id)
        statuses = client.get_statuses(run_id)
        children = client.search_runs(filter=children_of(run_id))
    if as_json:
        _cli_render.print_json({**run, "files": files, "statuses": statuses, "children": children})
        return
    console = _cli_render.console()
    console.print(_cli_render.details_grid(run))
    if len(statuses) > 1:
        console.print(_cli_compute.statuses_table(statuses))
    for title in ("tags", "params", "properties"):
        if run.get(title):
            console.print(_cli_render.key_values_table(title, run[title]))
    if run.get("metrics"):
        console.print(_cli_render.metrics_table(run["metrics"]))
    if files:
        console.print(_cli_render.files_table(files))
    if children:
        console.print(_cli_render.runs_table(children, [], width=console.width)[0])


@cli.command()
@_run_ids_argument
@pass_options
def delete(opts: Options, run_ids: tuple[str, ...]) -> None:
    """Mark runs deleted (as MLflow does): lists leave them out; `runlog restore` undoes it."""
    done = "deleted {run_id} (undo: runlog restore {run_id})"
    _change_each(opts, run_ids, lambda client, run_id: client.delete_run(run_id), done)


@cli.command()
@_run_ids_argument
@pass_options
def restore(opts: Options, run_ids: tuple[str, ...]) -> None:
    """Restore runs that were deleted."""
    _change_each(
        opts, run_ids, lambda client, run_id: client.restore_run(run_id), "restored {run_id}"
    )


def _change_each(
    opts: Options, run_ids: Sequence[str], change: Callable[[Client, str], object], done: str
) -> None:
    """Apply *change* to each run in turn and echo *done* (``{run_id}`` filled in) after it;
    a failure stops there, so what is echoed is what was changed."""
    with opts.client() as client:
        for run_id in run_ids:
            change(client, run_id)
            click.echo(done.format(run_id=run_id))


@cli.command()
@_run_argument
@click.argument("name")
@pass_options
def rename(opts: Options, run_id: str, name: str) -> None:
    """Give RUN the display name NAME."""
    with opts.client() as client:
        client.rename_run(run_id, name)
    click.echo(f"renamed {run_id} to {name!r}")


@cli.command()
@_run_argument
@click.argument("pairs", metavar="KEY=VALUE...", nargs=-1)
@click.option("--delete", "remove", multiple=True, metavar="KEY", help="Remove this tag.")
@pass_options
def tag(opts: Options, run_id: str, pairs: tuple[str, ...], remove: tuple[str, ...]) -> None:
    """Set tags of RUN (KEY=VALUE ...) and remove others (--delete KEY); prints its tags."""
    if not pairs and not remove:
        raise click.UsageError("give KEY=VALUE pairs to set, or --delete KEY")
    with opts.client() as client:
        tags = client.set_tags(run_id, _parse_tags(pairs), remove)
    _cli_render.console().print(_cli_render.key_values_table("tags", tags))


@cli.command()
@click.argument("first", metavar="RUN")
@click.argument("second", metavar="RUN")
@click.option("--all", "show_all", is_flag=True, help="Also the params that are the same.")
@_cli_render.json_option
@pass_options
def compare(opts: Options, first: str, second: str, show_all: bool, as_json: bool) -> None:
    """Compare two runs: the params that differ, and the last metric values side by side."""
    with opts.client() as client:
        runs_ = [client.get_run(first), client.get_run(second)]
    rows = _cli_render.comparison(runs_, show_all)
    _cli_render.print_found(rows, as_json, lambda rows: _cli_render.comparison_table(runs_, rows))


# --- metrics and files --------------------------------------------------------------------


@cli.command()
@_run_argument
@click.argument("name", required=False)
@click.option("--column", default=None, help="Only this column of a row or table metric.")
@click.option(
    "--max-points",
    type=click.IntRange(min=2),
    default=None,
    metavar="N",
    help="Let the collector downsample each column to at most N points.",
)
@click.option("--all", "show_all", is_flag=True, help="Print every point as a table.")
@click.option("--csv", "as_csv", is_flag=True, help="Print every point as CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print every point as JSON.")
@pass_options
def metrics(
    opts: Options,
    run_id: str,
    name: str | None,
    column: str | None,
    max_points: int | None,
    show_all: bool,
    as_csv: bool,
    as_json: bool,
) -> None:
    """Without NAME: the run's metric summaries. With NAME: its summary and a chart (numbers)
    or its points (anything else); --all, --csv and --json print every point."""
    with opts.client() as client:
        summaries = client.list_metrics(run_id)
        if name is None:
            _cli_render.print_found(summaries, as_json, _cli_render.metrics_table)
            return
        columns = _columns_of(summaries, run_id, name, column)
        if not (show_all or as_csv or as_json):
            _print_overview(client, run_id, name, columns, summaries, max_points)
            return
        series = [client.get_metric(run_id, name, col, max_points) for col in columns]
    if as_json:
        _cli_render.print_json([dataclasses.asdict(s) for s in series])
    elif as_csv:
        _cli_render.print_csv(series)
    else:
        _cli_render.console().print(_cli_render.points_table(series))


_SHOWN_AS_TABLE = 50  # a metric with at most this many points is simply listed


def _print_overview(
    client: Client,
    run_id: str,
    name: str,
    columns: Sequence[str],
    summaries: Sequence[Mapping[str, Any]],
    max_points: int | None,
) -> None:
    """The default view of one metric: a summary per column and a chart of each numeric one."""
    console = _cli_render.console()
    mine = [s for s in summaries if s["name"] == name and str(s.get("column", "")) in columns]
    total = sum(int(s.get("count", 0)) for s in mine)
    numeric = [s for s in mine if s.get("dtype") in ("f8", "i8") and s.get("kind") != "image"]
    if total <= _SHOWN_AS_TABLE * len(mine):
        every = [client.get_metric(run_id, name, col, max_points) for col in columns]
        console.print(_cli_render.points_table(every))
        return
    width = min(console.width, 120)
    for summary in mine:
        console.print(_cli_render.metric_summary_grid(summary))
        if summary in numeric:
            points = max_points or max(2, width - 12)
            one = client.get_metric(run_id, name, str(summary.get("column", "")), points)
            drawn = _cli_render.chart(one, width)
            if drawn:
                console.print(drawn, highlight=False, markup=False)
        console.print()
    console.print(
        f"({total} point{'s' if total != 1 else ''}; every one with --all, --csv or --json)",
        highlight=False,
    )


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
@_run_argument
@_cli_render.json_option
@pass_options
def files(opts: Options, run_id: str, as_json: bool) -> None:
    """List a run's files."""
    with opts.client() as client:
        found = client.list_files(run_id)
    _cli_render.print_found(found, as_json, _cli_render.files_table)


@cli.command()
@_run_argument
@click.argument("name", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    default=None,
    help="File or directory to write to (default: the file's name, here).",
)
@click.option("--snapshot", is_flag=True, help="The submitted run's source snapshot (a zip).")
@click.option("--force", is_flag=True, help="Overwrite a local file that exists.")
@pass_options
def download(
    opts: Options, run_id: str, name: str | None, output: str | None, snapshot: bool, force: bool
) -> None:
    """Download the run's file NAME (e.g. outputs/model.pkl), or its --snapshot."""
    from runlog.client import _target_path

    if snapshot == (name is not None):
        raise click.UsageError("give a file NAME or --snapshot (one of them)")
    if snapshot:
        from runlog.snapshot import FILE_NAME

        name, output = FILE_NAME, output or f"{run_id}-snapshot.zip"
    assert name is not None  # one of the two, checked above
    target = _target_path(name, output)
    if target.exists() and not force:
        _fail(f"{target} exists; pass --force to overwrite it, or -o to write elsewhere")
    with opts.client() as client:
        written = client.download_file(run_id, name, output)
    click.echo(written)


# --- logs and spans -------------------------------------------------------------------------


@cli.command()
@_run_argument
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the run ends.")
@click.option("--level", metavar="LEVEL", help="Only lines at LEVEL or above (e.g. WARN).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
@pass_options
def logs(opts: Options, run_id: str, follow: bool, level: str | None, as_json: bool) -> None:
    """Print a run's log lines (with -f, follow them like tail -f)."""
    import json

    with opts.client() as client:
        for line in client.iter_logs(run_id, follow=follow, level=level):
            click.echo(json.dumps(line) if as_json else _cli_render.log_line_text(line))


@cli.command()
@_run_argument
@_cli_render.json_option
@pass_options
def spans(opts: Options, run_id: str, as_json: bool) -> None:
    """Show a run's timeline: its spans with start, duration and status."""
    with opts.client() as client:
        found = client.get_spans(run_id)
    _cli_render.print_found(found, as_json, _cli_render.spans_table)


# --- launch a command as a run --------------------------------------------------------------


@cli.command("run", context_settings={"allow_interspersed_args": False})
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
@click.option(
    "--parse-metrics/--no-parse-metrics",
    default=True,
    envvar=c.ENV_PARSE_METRICS,
    show_default=True,
    help="Record print-style metrics (`epoch 3 loss=1.62`, `eval_loss: 1.6`) of stdout lines "
    f"and log messages as points [env {c.ENV_PARSE_METRICS}=0 to switch off].",
)
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
    parse_metrics: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND as a run: runlog run -e EXP -- python train.py ARGS.

    Options go before COMMAND; an unknown one is a usage error (exit 2) and starts nothing.

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
        parse_metrics=parse_metrics,
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
cli.add_command(collector_command)  # collectors/cli_args.py: `python -m collectors` too
cli.add_command(db)  # runlog/_store_cli.py
cli.add_command(gc)
cli.add_command(export_)
cli.add_command(import_)
_cli_compute.register(cli, pass_options, _parse_tags)

if __name__ == "__main__":  # pragma: no cover
    main()
