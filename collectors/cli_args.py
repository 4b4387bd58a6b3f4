"""The collector's command line, defined once: ``runlog collector`` and ``python -m collectors``
both run `command` (a click command), so they take the same options with the same defaults.

Only click, `collectors.settings` and `runlog.conventions` are imported here, so that the
light client can list ``runlog collector --help`` without the server libraries; starting the
collector imports `collectors.server` (and names the missing distribution when it is absent).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from collectors.settings import (
    DEFAULT_DEAD_AFTER_S,
    DEFAULT_HEARTBEAT_TIMEOUT_S,
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_FILE_BYTES,
    MIB,
    Settings,
    default_spool_dir,
)
from runlog import conventions as c


def settings_from_options(
    *,
    data_dir: str | None,
    host: str,
    port: int,
    grpc_port: int,
    no_grpc: bool,
    token: str | None,
    max_body_mb: float,
    max_file_mb: float,
    spool_dir: str | None,
    no_replay: bool,
    replay_spool: bool,
    heartbeat_timeout: float,
    dead_after: float,
    no_local_execution: bool,
    max_local_runs: int,
    ray_address: str | None,
    max_ray_runs: int,
    cancel_grace: float,
    store: str | None = None,
    files: str | None = None,
    migrate: bool = False,
) -> Settings:
    """The `Settings` that the command's options (by their parameter names) describe."""
    del replay_spool  # the default; accepted for the scripts that still pass it
    return Settings(
        data_dir=Path(data_dir) if data_dir else Path("runlog-data"),
        host=host,
        port=port,
        grpc_port=None if no_grpc else grpc_port,
        token=token or None,
        max_body_bytes=int(max_body_mb * MIB),
        max_file_bytes=int(max_file_mb * MIB),
        spool_dir=Path(spool_dir) if spool_dir else default_spool_dir(),
        replay_spool=not no_replay,
        heartbeat_timeout_s=heartbeat_timeout,
        dead_after_s=dead_after,
        local_execution=not no_local_execution,
        max_local_runs=max_local_runs,
        ray_address=ray_address,
        max_ray_runs=max_ray_runs,
        cancel_grace_s=cancel_grace,
        store=store or None,
        files=files or None,
        migrate=migrate,
    )


def _serve(settings: Settings) -> None:
    """Import the server only now: its libraries are the ``collector`` extra."""
    try:
        from collectors.server import serve
    except ImportError as exc:
        from runlog.extras import missing_message

        raise click.ClickException(missing_message("the collector", exc)) from exc
    serve(settings)


#: What the command does with its settings; tests and embedders may replace it.
Serve = Callable[[Settings], None]
#: What `click.option` returns: a decorator that adds the option to a command.
Option = Callable[[Callable[..., Any]], Callable[..., Any]]


def _port(flag: str, default: int, help: str) -> Option:
    """An option of a TCP port to listen on (0: any free port)."""
    return click.option(
        flag, type=click.IntRange(0, 65535), default=default, show_default=True, help=help
    )


def _megabytes(flag: str, default_bytes: int, help: str) -> Option:
    """An option of a size limit in MiB (more than 0); *default_bytes* shown in MiB."""
    return click.option(
        flag,
        type=click.FloatRange(min=0, min_open=True),
        default=default_bytes / MIB,
        show_default=True,
        metavar="MB",
        help=help,
    )


def _seconds(flag: str, default: float, help: str) -> Option:
    """An option of a duration in seconds (0 or more)."""
    return click.option(
        flag,
        type=click.FloatRange(min=0),
        default=default,
        show_default=True,
        metavar="SECONDS",
        help=help,
    )


def _count(flag: str, default: int, help: str) -> Option:
    """An option of how many runs at a time (1 or more)."""
    return click.option(
        flag, type=click.IntRange(min=1), default=default, show_default=True, metavar="N", help=help
    )


def make_command(serve: Serve = _serve, name: str = "collector") -> click.Command:
    """The collector command; *serve* receives the parsed `Settings`."""

    @click.command(name, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        envvar=c.ENV_DATA_DIR,
        help=f"Where the store and files live [env {c.ENV_DATA_DIR}; default ./runlog-data].",
    )
    @click.option(
        "--store",
        metavar="URL",
        envvar=c.ENV_STORE,
        help="The metadata store: postgresql://user@host/db to share one store between "
        f"collectors [env {c.ENV_STORE}; default SQLite in --data-dir].",
    )
    @click.option(
        "--files",
        metavar="URL",
        envvar=c.ENV_FILES,
        help="Where run files go: s3://bucket/prefix or any fsspec URL (needs "
        f"runlog-ml[s3] for s3://) [env {c.ENV_FILES}; default files/ in --data-dir].",
    )
    @click.option(
        "--migrate",
        is_flag=True,
        help="Bring a PostgreSQL store's schema to the newest revision at start "
        "(SQLite is always migrated).",
    )
    @click.option(
        "--host",
        default=DEFAULT_HOST,
        show_default=True,
        help="Address to bind; a non-loopback address needs --token.",
    )
    @_port("--port", c.DEFAULT_HTTP_PORT, "OTLP/HTTP, files, query API and studio port.")
    @_port("--grpc-port", c.DEFAULT_GRPC_PORT, "OTLP/gRPC port.")
    @click.option("--no-grpc", is_flag=True, help="Do not start the OTLP/gRPC receiver.")
    @click.option(
        "--token",
        metavar="TOKEN",
        envvar=c.ENV_TOKEN,
        help=f"Require this bearer token from every client [env {c.ENV_TOKEN}].",
    )
    @_megabytes("--max-body-mb", DEFAULT_MAX_BODY_BYTES, "Largest request body, decompressed.")
    @_megabytes("--max-file-mb", DEFAULT_MAX_FILE_BYTES, "Largest uploaded file.")
    @click.option(
        "--spool-dir",
        type=click.Path(file_okay=False),
        envvar=c.ENV_SPOOL_DIR,
        help=f"The client spool replayed at start [env {c.ENV_SPOOL_DIR}; "
        "default ~/.runlog/spool].",
    )
    @click.option("--no-replay", is_flag=True, help="Do not replay the spool at start.")
    @click.option("--replay-spool", is_flag=True, hidden=True, help="The default (kept).")
    @_seconds(
        "--heartbeat-timeout",
        DEFAULT_HEARTBEAT_TIMEOUT_S,
        "A run that sends heartbeats is NotResponding after this much silence (0: never).",
    )
    @_seconds(
        "--dead-after",
        DEFAULT_DEAD_AFTER_S,
        "A NotResponding run is Failed after this much more silence.",
    )
    @click.option("--no-local-execution", is_flag=True, help="Refuse submitted runs on this host.")
    @_count("--max-local-runs", 2, "Submitted runs run here at a time; the rest wait in the queue.")
    @click.option(
        "--ray-address",
        envvar="RAY_ADDRESS",
        metavar="URL",
        help="Ray job API (e.g. http://127.0.0.1:8265): adds the ray target [env RAY_ADDRESS].",
    )
    @_count("--max-ray-runs", 8, "Runs handed to Ray at a time.")
    @_seconds("--cancel-grace", 10.0, "Seconds between SIGTERM and SIGKILL when a run is canceled.")
    @click.pass_context
    def collector(ctx: click.Context, /, **options: Any) -> None:
        """Start the collector: OTLP/HTTP + query API + studio, OTLP/gRPC, one store
        (needs `pip install 'runlog-ml[collector]'`)."""
        if not options["token"]:  # `runlog --token T collector`: the global token
            options["token"] = ctx.find_root().params.get("token")
        serve(settings_from_options(**options))

    return collector


#: The command itself (``runlog collector``; ``python -m collectors`` runs it standalone).
command = make_command()
