"""The collector's settings: where it keeps data, where it listens, its limits."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from runlog import conventions as c
from runlog.exceptions import ConfigError

MIB = 1024 * 1024
DEFAULT_MAX_BODY_BYTES = 64 * MIB
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * MIB
DEFAULT_HOST = "127.0.0.1"
#: Seconds of silence after which a watched run is NotResponding (6 missed heartbeats).
DEFAULT_HEARTBEAT_TIMEOUT_S = 60.0
#: Further seconds of silence after which a NotResponding run is Failed.
DEFAULT_DEAD_AFTER_S = 600.0


def default_spool_dir() -> Path:
    """``RUNLOG_SPOOL_DIR`` if set, else ``~/.runlog/spool``: the client's spool."""
    from runlog.spool import default_dir

    return default_dir()


@dataclass(frozen=True, slots=True)
class Settings:
    """How one collector runs.

    Attributes:
        data_dir: holds ``runlog.db`` (SQLite), ``files/`` and ``model-files/``.
        host: address to listen on; anything but loopback requires *token*.
        port: HTTP port (OTLP/HTTP, files, query API).
        grpc_port: OTLP/gRPC port, or None for no gRPC receiver.
        token: bearer token every request must carry (except ``/healthz``); None for none.
        max_body_bytes: limit of one request body, decompressed size included.
        max_file_bytes: limit of one uploaded file.
        spool_dir: the local client spool to replay at start when *replay_spool* is set.
        replay_spool: replay *spool_dir* into this collector once it is up.
        heartbeat_timeout_s: seconds of silence after which a run whose producer sends
            heartbeats is NotResponding; 0 switches the watching off.
        dead_after_s: further seconds of silence after which such a run is Failed.
        local_execution: run submitted scripts on this host (the ``local`` target).
        max_local_runs: submitted runs the ``local`` target runs at a time.
        ray_address: a Ray cluster's address (e.g. ``http://127.0.0.1:8265``) for the
            ``ray`` target; None for no ray target.
        max_ray_runs: runs the ``ray`` target has submitted to Ray at a time.
        cancel_grace_s: seconds between SIGTERM and SIGKILL when a run is canceled.
        store: the metadata store's URL (``postgresql://user@host/db`` to share one store
            between collectors; default ``RUNLOG_STORE``); None keeps SQLite in *data_dir*.
        migrate: bring a PostgreSQL store's schema to the newest version at start (a SQLite
            store is always migrated); without it an outdated schema refuses to start.
        files: where run files go, as an fsspec URL (``s3://bucket/prefix``; default
            ``RUNLOG_FILES``); None keeps them in *data_dir*/files.
    """

    data_dir: Path = field(default_factory=lambda: Path("runlog-data"))
    host: str = DEFAULT_HOST
    port: int = c.DEFAULT_HTTP_PORT
    grpc_port: int | None = c.DEFAULT_GRPC_PORT
    token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    spool_dir: Path = field(default_factory=default_spool_dir)
    replay_spool: bool = False
    heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S
    dead_after_s: float = DEFAULT_DEAD_AFTER_S
    local_execution: bool = True
    max_local_runs: int = 2
    ray_address: str | None = None
    max_ray_runs: int = 8
    cancel_grace_s: float = 10.0
    store: str | None = field(default_factory=lambda: os.environ.get(c.ENV_STORE) or None)
    migrate: bool = False
    files: str | None = field(default_factory=lambda: os.environ.get(c.ENV_FILES) or None)

    def check(self) -> None:
        """Refuse settings the collector must not run with.

        Raises:
            ConfigError: a non-loopback host without a token, a token of blanks or with
                blanks around it, a non-positive limit, or negative liveness times.
        """
        if self.token is not None and self.token != self.token.strip():
            shown = "only whitespace" if not self.token.strip() else "whitespace around it"
            raise ConfigError(
                f"refusing a token of {shown}: clients could never send it exactly. Pass "
                "--token (or RUNLOG_TOKEN) without spaces, tabs or newlines around it."
            )
        if not self.token and not is_loopback(self.host):
            raise ConfigError(
                f"refusing to listen on {self.host!r} without a token: anyone who can reach "
                "it could read and write runs. Pass --token (or set RUNLOG_TOKEN), or listen "
                "on 127.0.0.1."
            )
        if self.max_body_bytes <= 0 or self.max_file_bytes <= 0:
            raise ConfigError("size limits must be positive numbers of bytes")
        if not 0 <= self.heartbeat_timeout_s < _MAX_SECONDS or not (
            0 <= self.dead_after_s < _MAX_SECONDS
        ):
            raise ConfigError(
                "--heartbeat-timeout and --dead-after must be seconds from 0 to 10 years "
                f"(got {self.heartbeat_timeout_s} and {self.dead_after_s})"
            )
        if self.max_local_runs < 1 or self.max_ray_runs < 1 or self.cancel_grace_s < 0:
            raise ConfigError("run limits must be at least 1 and the cancel grace at least 0")

    @property
    def run_endpoint(self) -> str:
        """The URL that runs started by this collector send their data to."""
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host in ("::", "[::]"):
            host = "[::1]"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def store_url(self) -> str:
        """The store's URL: *store*, else the SQLite file in *data_dir*."""
        return self.store or f"sqlite:///{self.db_path.expanduser().resolve()}"

    @property
    def migrate_at_start(self) -> bool:
        """Whether the collector migrates the schema when it opens the store."""
        return self.migrate or self.store_url.startswith("sqlite")

    @property
    def db_path(self) -> Path:
        """The SQLite database file."""
        return self.data_dir / "runlog.db"

    @property
    def files_dir(self) -> Path:
        """Where uploaded files of runs live."""
        return self.data_dir / "files"

    @property
    def model_files_dir(self) -> Path:
        """Where the files of MLflow logged models live (by model id)."""
        return self.data_dir / "model-files"


_MAX_SECONDS = 10 * 365 * 24 * 3600.0


def is_loopback(host: str) -> bool:
    """Tell whether *host* names only this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
