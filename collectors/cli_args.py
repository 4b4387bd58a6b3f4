"""Command-line options of ``python -m collectors`` (and ``runlog collector``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every option also documents its environment fallback."""
    parser = argparse.ArgumentParser(
        prog="python -m collectors",
        description="Run the runlog collector: OTLP/HTTP + query API, OTLP/gRPC, one store.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get(c.ENV_DATA_DIR, "runlog-data")),
        help=f"where runlog.db and files/ live (env {c.ENV_DATA_DIR}; default ./runlog-data)",
    )
    parser.add_argument(
        "--store",
        default=os.environ.get(c.ENV_STORE) or None,
        metavar="URL",
        help=f"metadata store URL, e.g. postgresql://runlog@db-host/runlog to share one store "
        f"between collectors (env {c.ENV_STORE}; default SQLite in --data-dir)",
    )
    parser.add_argument(
        "--files",
        default=os.environ.get(c.ENV_FILES) or None,
        metavar="URL",
        help=f"where run files go: an fsspec URL such as s3://bucket/prefix (env {c.ENV_FILES}; "
        "default files/ in --data-dir; needs s3fs for s3://)",
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="bring a PostgreSQL store's schema to the newest version at start "
        "(SQLite is always migrated)",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="listen address (default loopback)")
    parser.add_argument("--port", type=int, default=c.DEFAULT_HTTP_PORT, help="HTTP port")
    parser.add_argument("--grpc-port", type=int, default=c.DEFAULT_GRPC_PORT, help="gRPC port")
    parser.add_argument("--no-grpc", action="store_true", help="do not start the gRPC receiver")
    parser.add_argument(
        "--token",
        default=os.environ.get(c.ENV_TOKEN) or None,
        help=f"bearer token required from clients (env {c.ENV_TOKEN}); "
        "required for a non-loopback --host",
    )
    parser.add_argument(
        "--max-body-mb",
        type=float,
        default=DEFAULT_MAX_BODY_BYTES / MIB,
        help="largest request body, decompressed (MiB, default 64)",
    )
    parser.add_argument(
        "--max-file-mb",
        type=float,
        default=DEFAULT_MAX_FILE_BYTES / MIB,
        help="largest uploaded file (MiB, default 10240)",
    )
    parser.add_argument(
        "--spool-dir",
        type=Path,
        default=None,
        help=f"client spool to replay (env {c.ENV_SPOOL_DIR}; default ~/.runlog/spool)",
    )
    parser.add_argument(
        "--replay-spool", action="store_true", help="replay the spool into this collector at start"
    )
    parser.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=DEFAULT_HEARTBEAT_TIMEOUT_S,
        metavar="SECONDS",
        help="a run that sends heartbeats is NotResponding after this much silence "
        "(default 60; 0: never)",
    )
    parser.add_argument(
        "--dead-after",
        type=float,
        default=DEFAULT_DEAD_AFTER_S,
        metavar="SECONDS",
        help="a NotResponding run is Failed after this much more silence (default 600)",
    )
    add_compute_arguments(parser)
    return parser


def add_compute_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the compute targets that run submitted scripts."""
    parser.add_argument(
        "--no-local-execution",
        action="store_true",
        help="refuse submitted runs on this host (the local target)",
    )
    parser.add_argument(
        "--max-local-runs", type=int, default=2, help="submitted runs run here at a time"
    )
    parser.add_argument(
        "--ray-address",
        default=os.environ.get("RAY_ADDRESS") or None,
        help="Ray cluster (job API) address for the ray target, e.g. http://127.0.0.1:8265",
    )
    parser.add_argument("--max-ray-runs", type=int, default=8, help="runs handed to Ray at a time")
    parser.add_argument(
        "--cancel-grace",
        type=float,
        default=10.0,
        help="seconds between SIGTERM and SIGKILL when a run is canceled",
    )


def parse_settings(argv: Sequence[str] | None = None) -> Settings:
    """Parse *argv* (default: ``sys.argv[1:]``) into `Settings`."""
    args = build_parser().parse_args(argv)
    return Settings(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        grpc_port=None if args.no_grpc else args.grpc_port,
        token=args.token,
        max_body_bytes=int(args.max_body_mb * MIB),
        max_file_bytes=int(args.max_file_mb * MIB),
        spool_dir=args.spool_dir or default_spool_dir(),
        replay_spool=args.replay_spool,
        heartbeat_timeout_s=args.heartbeat_timeout,
        dead_after_s=args.dead_after,
        local_execution=not args.no_local_execution,
        max_local_runs=args.max_local_runs,
        ray_address=args.ray_address,
        max_ray_runs=args.max_ray_runs,
        cancel_grace_s=args.cancel_grace,
        store=args.store,
        migrate=args.migrate,
        files=args.files,
    )
