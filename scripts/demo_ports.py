"""Choose the demo's ports: ``python scripts/demo_ports.py HTTP GRPC [--fixed]``.

Prints ``HTTP GRPC`` (the ports to use) on stdout. A taken port is replaced by a free one,
with a line on stderr saying so; with ``--fixed`` (the user chose the ports) a taken port
stops the demo with a clear message and exit status 1, before anything is written.
"""

from __future__ import annotations

import socket
import sys


def is_free(port: int) -> bool:
    """Whether nothing listens on (or holds) *port* on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port free on loopback now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str]) -> int:
    fixed = "--fixed" in argv
    ports = [int(a) for a in argv if a != "--fixed"]
    chosen = []
    for what, port in zip(("HTTP", "gRPC"), ports, strict=True):
        if is_free(port):
            chosen.append(port)
            continue
        if fixed:
            print(
                f"make demo: port {port} ({what}) is taken by another program; choose a free "
                "one with RUNLOG_DEMO_PORT / RUNLOG_DEMO_GRPC_PORT, or unset them to let the "
                "demo pick free ports. Nothing was written.",
                file=sys.stderr,
            )
            return 1
        other = free_port()
        print(
            f"port {port} ({what}) is taken (another collector or OpenTelemetry collector?): "
            f"the demo uses {other} instead",
            file=sys.stderr,
        )
        chosen.append(other)
    print(*chosen)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
