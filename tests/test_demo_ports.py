"""`make demo` on a machine where OpenTelemetry's port is taken (scripts/demo_ports.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "demo_ports.py"


@pytest.fixture
def taken() -> Iterator[int]:
    """A port that another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _ports(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=30
    )


def _free() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_taken_default_port_is_replaced_and_said(taken: int) -> None:
    grpc = _free()
    result = _ports(str(taken), str(grpc))
    assert 0 == result.returncode, result.stderr
    http, kept = (int(p) for p in result.stdout.split())
    assert (grpc, True) == (kept, http != taken)
    assert f"port {taken} (HTTP) is taken" in result.stderr
    assert f"the demo uses {http} instead" in result.stderr


def test_a_taken_chosen_port_stops_before_anything(taken: int) -> None:
    result = _ports(str(taken), str(_free()), "--fixed")
    assert (1, "") == (result.returncode, result.stdout)
    assert f"port {taken} (HTTP) is taken by another program" in result.stderr
    assert "Nothing was written." in result.stderr


def test_free_ports_are_kept() -> None:
    http, grpc = _free(), _free()
    result = _ports(str(http), str(grpc))
    assert (0, f"{http} {grpc}", "") == (result.returncode, result.stdout.strip(), result.stderr)
