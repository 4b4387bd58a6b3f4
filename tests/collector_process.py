"""Start and stop real collector processes on free loopback ports (test helper).

The fixtures in tests/conftest.py wrap this; tests that need more control (two
collectors on one data directory, extra options) import it directly.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


@dataclass
class Collector:
    """A running collector process.

    Attributes:
        endpoint: base URL of OTLP/HTTP and the query API, e.g. ``http://127.0.0.1:40123``.
        grpc_endpoint: OTLP/gRPC endpoint as OTel exporters take it (``http://host:port``).
        grpc_address: ``host:port`` of the gRPC receiver (for grpc channels).
        data_dir: the collector's data directory.
        token: the bearer token it requires, or None.
        process: the child process.
        log_path: where its stdout and stderr go.
    """

    endpoint: str
    grpc_endpoint: str
    grpc_address: str
    data_dir: Path
    token: str | None
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def client(self) -> httpx.Client:
        """An httpx client for the query API (with the token, if any)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.endpoint, headers=headers, timeout=30)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(
    what: str,
    process: subprocess.Popen[bytes],
    health_url: str,
    log: Callable[[], str],
    timeout_s: float,
    interval_s: float = 0.05,
) -> None:
    """Wait until *health_url* answers 200; raise with the server's *log* if the process
    exits first or *timeout_s* passes (the collector, and ``mlflow server`` in its tests)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{log()}")
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(interval_s)
    raise RuntimeError(f"{what} not healthy after {timeout_s}s:\n{log()}")


def stop_collector(collector: Collector) -> int:
    """SIGTERM the process, wait for it (kill after a while); return its exit status."""
    if collector.process.poll() is None:
        collector.process.send_signal(signal.SIGTERM)
        try:
            collector.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            collector.process.kill()
            collector.process.wait()
    return collector.process.returncode


@contextmanager
def run_collector(
    data_dir: Path,
    args: Sequence[str] = (),
    token: str | None = None,
    cwd: Path | None = None,
    port: int | None = None,
) -> Iterator[Collector]:
    """Start ``python -m collectors`` on free loopback ports (HTTP on *port* if given, in
    *cwd*); stop it on exit."""
    port, grpc_port = port or free_port(), free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-collector.log"
    command = [sys.executable, "-m", "collectors", "--data-dir", str(data_dir)]
    command += ["--port", str(port), "--grpc-port", str(grpc_port), *args]
    if "--replay-spool" not in args:  # replay is the default: keep ~/.runlog/spool out of tests
        command.append("--no-replay")
    if token:
        command += ["--token", token]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLOG_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    collector = Collector(
        endpoint=f"http://127.0.0.1:{port}",
        grpc_endpoint=f"http://127.0.0.1:{grpc_port}",
        grpc_address=f"127.0.0.1:{grpc_port}",
        data_dir=data_dir,
        token=token,
        process=process,
        log_path=log_path,
    )
    try:
        wait_healthy(
            "collector",
            collector.process,
            collector.endpoint + "/healthz",
            collector.log,
            START_TIMEOUT_S,
        )
        yield collector
    finally:
        stop_collector(collector)
