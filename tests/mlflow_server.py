"""Start and stop a real ``mlflow server`` on a free loopback port (test and bench helper).

The differential test (tests/collectors/mlflow/test_mlflow_differential.py) and the benchmark
(bench/mlflow_compare.py) run the same MLflow client calls against this server and against
the runlog collector. The server is MLflow's own: SQLite backend store and proxied artifacts
(``--serve-artifacts``) in a temporary folder, bound to 127.0.0.1 only. It runs in its own
process group so that stopping it also stops the uvicorn workers it spawns.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from collector_process import free_port, wait_healthy

START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0


@dataclass
class MlflowServer:
    """A running ``mlflow server`` process.

    Attributes:
        url: tracking URI for MLflow clients, e.g. ``http://127.0.0.1:40123``.
        root: folder holding its SQLite database and its artifacts.
        process: the ``mlflow server`` process (leader of its own process group).
        log_path: where its stdout and stderr go.
    """

    url: str
    root: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")


def server_command(root: Path, port: int, workers: int) -> list[str]:
    """The ``mlflow server`` command line: SQLite store, proxied artifacts, loopback only."""
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    return [
        str(mlflow_cli),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--serve-artifacts",
        "--workers",
        str(workers),
    ]


def stop_server(server: MlflowServer) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    group = server.process.pid  # start_new_session: the leader's pid is the group id
    for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        try:
            server.process.wait(wait_s)
            break
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def run_mlflow_server(root: Path, workers: int = 1) -> Iterator[MlflowServer]:
    """Run ``mlflow server`` with its data under ``root``; stop it (and its workers) on exit.

    Args:
        root: an empty folder for the SQLite database, artifacts and the server's log.
        workers: uvicorn worker processes (MLflow's default is 4; one keeps tests light).

    Yields:
        The running server, healthy (``/health`` answered 200).
    """
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = root / "mlflow-server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RUNLOG_"))}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            server_command(root, port, workers),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,
        )
    server = MlflowServer(f"http://127.0.0.1:{port}", root, process, log_path)
    try:
        wait_healthy(
            "mlflow server",
            server.process,
            server.url + "/health",
            server.log,
            START_TIMEOUT_S,
            0.1,
        )
        yield server
    finally:
        stop_server(server)
