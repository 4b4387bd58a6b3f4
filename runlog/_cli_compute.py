"""The CLI commands of submitted runs: ``submit``, ``cancel``, ``queue``, ``targets``.

Registered on `runlog.cli.cli` by `register`; kept apart so the main CLI module stays short.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click

from runlog import _cli_render
from runlog import conventions as c


def queue_table(found: Sequence[Mapping[str, Any]]) -> Any:
    """Queued and running submitted runs, in queue order."""
    table = _cli_render.new_table("#", "run", "experiment", "target", "status", "queued", "script")
    for run in found:
        position = str(run["position"]) if run.get("position") else "-"
        command = " ".join([run["script"], *run.get("arguments", [])])
        table.add_row(
            position,
            run["run_id"],
            run["experiment"],
            run["target"],
            run["status"],
            _cli_render.fmt_time(run["queued_ns"]),
            command,
        )
    return table


def statuses_table(statuses: Sequence[Mapping[str, Any]]) -> Any:
    """A run's status history: each status, when it began, how long it lasted."""
    table = _cli_render.new_table("status", "since", "for", title="lifecycle")
    for index, change in enumerate(statuses):
        following = statuses[index + 1]["time_ns"] if index + 1 < len(statuses) else None
        lasted = (following - change["time_ns"]) / 1e9 if following is not None else None
        since = (
            _cli_render.fmt_time(change["time_ns"])
            + f".{change['time_ns'] // 1_000_000 % 1000:03d}"
        )
        table.add_row(change["status"], since, _cli_render.fmt_duration(lasted))
    return table


def targets_table(found: Sequence[Mapping[str, Any]]) -> Any:
    """Compute targets with their limit and queue lengths."""
    table = _cli_render.new_table("target", "kind", "max running", "running", "queued", "where")
    for target in found:
        where = target.get("disabled") or target.get("address") or "-"
        table.add_row(
            target["name"],
            target["kind"],
            str(target["max_running"]),
            str(target.get("running", "-")),
            str(target.get("queued", "-")),
            where,
        )
    return table


_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def register(
    cli: click.Group, pass_options: _Decorator, parse_tags: Callable[[Sequence[str]], Any]
) -> None:
    """Add the commands to *cli* (the `Options` decorator and tag parser come from it)."""

    @cli.command(
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
    )
    @click.option("-e", "--experiment", metavar="NAME", help="Experiment [env RUNLOG_EXPERIMENT].")
    @click.option("--target", default="local", show_default=True, help="Compute target.")
    @click.option(
        "--source-dir",
        default=".",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Folder snapshotted and run in (honours .gitignore and .runlogignore).",
    )
    @click.option(
        "--env-file",
        type=click.Path(dir_okay=False),
        help="pip requirements: run in a managed environment built from them (cached).",
    )
    @click.option("--python", "interpreter", metavar="PATH", help="Interpreter to run with.")
    @click.option("--name", metavar="NAME", help="Display name [default: the script].")
    @click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Tag (repeatable).")
    @click.option("--autolog", is_flag=True, help="Auto-instrument the script as `runlog run`.")
    @click.option("--wait", is_flag=True, help="Stream the output and wait for the end.")
    @click.argument("script")
    @click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
    @pass_options
    def submit(
        opts: Any,
        experiment: str | None,
        target: str,
        source_dir: str,
        env_file: str | None,
        interpreter: str | None,
        name: str | None,
        tags: tuple[str, ...],
        autolog: bool,
        wait: bool,
        script: str,
        arguments: tuple[str, ...],
    ) -> None:
        """Submit SCRIPT of a source folder as a run: runlog submit -- train.py ARGS.

        Prints the run id at once (status Queued); --wait streams the output and exits 0
        when the run completes, 1 when it fails or is canceled.
        """
        import os

        from runlog import Environment, Experiment, ScriptRunConfig, Workspace

        if env_file and interpreter:
            raise click.UsageError("give --env-file (managed) or --python (user-managed), not both")
        env = Environment.from_pip_requirements("requirements", env_file) if env_file else None
        if interpreter:
            env = Environment("user-managed")
            env.python.user_managed_dependencies = True
            env.python.interpreter_path = interpreter
        config = ScriptRunConfig(source_dir, script, list(arguments), target, env, autolog=autolog)
        exp_name = experiment or os.environ.get(c.ENV_EXPERIMENT) or c.DEFAULT_EXPERIMENT
        exp = Experiment(Workspace(opts.endpoint, opts.token), exp_name)
        run = exp.submit(config, tags=parse_tags(tags), name=name)
        click.echo(f"submitted run {run.id} to {target} (experiment {exp_name!r})", err=wait)
        if not wait:
            click.echo(f"follow it: runlog logs {run.id} -f")
            return
        details = run.wait_for_completion(show_output=True, raise_on_error=False)
        if details["status"] != c.STATUS_COMPLETED:
            error = details.get("error")
            reason = f": {error}" if error else ""
            click.echo(f"run {run.id} {details['status']}{reason}", err=True)
            raise click.exceptions.Exit(1)

    @cli.command()
    @click.argument("run_id", metavar="RUN")
    @click.option("--wait", is_flag=True, help="Wait until the run has stopped.")
    @pass_options
    def cancel(opts: Any, run_id: str, wait: bool) -> None:
        """Cancel a submitted run (a queued one never starts; a running one is stopped)."""
        with opts.client() as client:
            status = client.cancel_run(run_id)
            while wait and status not in c.TERMINAL_STATUSES:
                time.sleep(0.2)
                status = client.get_run(run_id)["status"]
        click.echo(f"run {run_id}: {status}" + ("" if wait else " (cancel requested)"))

    @cli.command()
    @click.option("--target", metavar="TARGET", help="Only this compute target.")
    @_cli_render.json_option
    @pass_options
    def queue(opts: Any, target: str | None, as_json: bool) -> None:
        """List queued and running submitted runs, in the order they start."""
        with opts.client() as client:
            found = client.list_queue(target)
        if as_json:
            _cli_render.print_json(found)
        elif not found:
            click.echo("no submitted run is queued or running", file=sys.stdout)
        else:
            _cli_render.console().print(queue_table(found))

    @cli.command()
    @_cli_render.json_option
    @pass_options
    def targets(opts: Any, as_json: bool) -> None:
        """List the collector's compute targets, their limits and queues."""
        with opts.client() as client:
            found = client.list_targets()
        _cli_render.print_found(found, as_json, targets_table)
