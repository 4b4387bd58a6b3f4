"""Run-tracking core benchmark: `python bench/core.py` prints a table of medians.

Each row is measured several times (``--repeat``) and reported as the median, next to a
baseline measured in the same run on the same machine:

* ``run.log`` cost per call in the training thread (exporter running, live collector)
  vs ``collections.deque.append`` in the same loop;
* ingest through a real collector process into its SQLite store: the packed path
  (runlog's wire format, 100k points per record) and the OpenTelemetry SDK's
  one-point-per-record path, vs inserting the same points as rows into SQLite directly;
* reading a 1,000,000-point vector through the query API (binary) and a 2,000-point
  downsampled view, vs selecting the same rows from the raw SQLite table.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import runlog  # noqa: E402
from runlog._otlp_encode import encode  # noqa: E402
from runlog._records import RunKey, Segment  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    """A real collector process on free loopback ports with a temporary data dir."""

    def __init__(self, data_dir: Path, args: list[str] | None = None) -> None:
        self.port, self.grpc_port = free_port(), free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "collectors",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                "--grpc-port",
                str(self.grpc_port),
                "--no-replay",  # the benchmark measures its own data, not ~/.runlog/spool
                *(args or []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("collector did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


@contextmanager
def running_collector() -> Iterator[tuple[Collector, Path]]:
    """A collector in a temporary folder, with the client's spool kept there too."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RUNLOG_SPOOL_DIR"] = str(Path(tmp) / "spool")
        collector = Collector(Path(tmp) / "data")
        try:
            yield collector, Path(tmp)
        finally:
            collector.stop()


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


# --- rows ------------------------------------------------------------------------------------
def bench_log_call(ws: runlog.Workspace, repeat: int, calls: int = 200_000) -> dict[str, float]:
    """run.log vs deque.append, two ways, exporter thread running against a live collector.

    ``call``: median latency of individually timed calls (timer overhead included on both
    sides): what one call costs the training thread. ``loop``: a tight loop's time per call,
    which also pays for the exporter packing those points under the same GIL.
    """
    run = runlog.Experiment(ws, "bench-log").start_logging()
    baseline: collections.deque[float] = collections.deque()
    clock = time.perf_counter_ns

    def per_call(log: Callable[..., None], *args: Any) -> float:
        samples = []
        for _ in range(calls // 4):
            start = clock()
            log(*args)
            samples.append(clock() - start)
        baseline.clear()
        return float(statistics.median(samples))

    def loop(log: Callable[..., None], *args: Any) -> float:
        start = clock()
        for _ in range(calls):
            log(*args)
        baseline.clear()
        return (clock() - start) / calls

    rounds = [
        (
            per_call(run.log, "loss", 0.5),
            per_call(baseline.append, 0.5),
            loop(run.log, "loss", 0.5),
            loop(baseline.append, 0.5),
        )
        for _ in range(repeat)
    ]
    run.complete()
    keys = ("call", "call_base", "loop", "loop_base")
    return {k: statistics.median(r[i] for r in rounds) for i, k in enumerate(keys)}


def packed_bodies(run_id: str, points: int, per_record: int = 100_000) -> list[bytes]:
    key = RunKey(run_id, "bench-ingest")
    now = time.time_ns()
    segments = [
        Segment(
            key,
            "loss",
            "",
            "scalar",
            "f8",
            list(range(i, min(i + per_record, points))),
            [now + j for j in range(i, min(i + per_record, points))],
            [j * 1e-6 for j in range(i, min(i + per_record, points))],
        )
        for i in range(0, points, per_record)
    ]
    return list(encode(segments))


def post_all(port: int, bodies: list[bytes]) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    for body in bodies:
        connection.request("POST", "/v1/logs", body, {"Content-Type": "application/x-protobuf"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"collector answered {response.status}")
    return time.perf_counter() - start


def bench_packed_ingest(collector: Collector, repeat: int, points: int) -> float:
    def once() -> float:
        bodies = packed_bodies(f"ingest-{time.time_ns()}", points)
        return points / post_all(collector.port, bodies)

    return median_of(repeat, once)


def bench_sqlite_rows(repeat: int, points: int, path: Path) -> float:
    def once() -> float:
        path.unlink(missing_ok=True)
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE points (run TEXT, name TEXT, step INTEGER, time INTEGER, value REAL)"
        )
        now = time.time_ns()
        rows = [("r", "loss", i, now + i, i * 1e-6) for i in range(points)]
        start = time.perf_counter()
        with db:
            db.executemany("INSERT INTO points VALUES (?, ?, ?, ?, ?)", rows)
        elapsed = time.perf_counter() - start
        db.close()
        return points / elapsed

    return median_of(repeat, once)


def bench_store_log_lines(repeat: int, tmp: Path, lines: int = 50_000) -> float:
    """Log lines per second the store commits (50 ops of 1,000 lines, one transaction)."""
    from collectors.ops import AppendLogLines, LogLine
    from collectors.store import open_store

    def once() -> float:
        store = open_store(tmp / f"lines-{time.time_ns()}.db")
        batch = tuple(LogLine(1, 9, "INFO", "app", f"line {i}") for i in range(1000))
        ops = [AppendLogLines("r1", batch) for _ in range(lines // 1000)]
        start = time.perf_counter()
        store.apply([ops])
        elapsed = time.perf_counter() - start
        store.close()
        return lines / elapsed

    return median_of(repeat, once)


def bench_otel_records(collector: Collector, repeat: int, records: int) -> float:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    def once() -> float:
        resource = Resource.create(
            {"runlog.run.id": f"otel-{time.time_ns()}", "runlog.experiment": "bench-otel"}
        )
        provider = LoggerProvider(resource=resource)
        exporter = OTLPLogExporter(endpoint=f"{collector.endpoint}/v1/logs")
        provider.add_log_record_processor(
            BatchLogRecordProcessor(exporter, max_queue_size=records * 2, max_export_batch_size=512)
        )
        logger = provider.get_logger("bench")
        start = time.perf_counter()
        for i in range(records):
            logger.emit(
                event_name="runlog.metric",
                attributes={
                    "runlog.metric.name": "loss",
                    "runlog.metric.value": i * 1e-3,
                    "runlog.metric.step": i,
                },
            )
        provider.force_flush(120_000)
        elapsed = time.perf_counter() - start
        provider.shutdown()
        return records / elapsed

    return median_of(repeat, once)


def bench_read(collector: Collector, repeat: int, points: int, raw_db: Path) -> dict[str, float]:
    run_id = f"read-{time.time_ns()}"
    post_all(collector.port, packed_bodies(run_id, points))
    connection = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=60)

    def get(query: str) -> float:
        start = time.perf_counter()
        connection.request("GET", f"/api/v1/runs/{run_id}/metric?name=loss&{query}")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or not body:
            raise RuntimeError(f"read failed: {response.status}")
        return (time.perf_counter() - start) * 1000

    def raw() -> float:
        db = sqlite3.connect(raw_db)
        start = time.perf_counter()
        rows = db.execute(
            "SELECT step, time, value FROM points WHERE run='r' AND name='loss'"
        ).fetchall()
        elapsed = (time.perf_counter() - start) * 1000
        db.close()
        assert len(rows) == points
        return elapsed

    return {
        "binary": median_of(repeat, lambda: get("format=binary")),
        "downsampled": median_of(repeat, lambda: get("max_points=2000")),
        "raw": median_of(repeat, raw),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--otel-records", type=int, default=20_000)
    args = parser.parse_args(argv)
    with running_collector() as (collector, tmp):
        rows = measure(collector, args, tmp)
    print_table(rows, args.repeat)


def measure(collector: Collector, args: Any, tmp: Path) -> list[tuple[str, str, str, str]]:
    ws = runlog.Workspace(collector.endpoint)
    log = bench_log_call(ws, args.repeat)
    packed = bench_packed_ingest(collector, args.repeat, args.points)
    rows_rate = bench_sqlite_rows(args.repeat, args.points, tmp / "raw.db")
    otel = bench_otel_records(collector, args.repeat, args.otel_records)
    reads = bench_read(collector, args.repeat, args.points, tmp / "raw.db")
    log_lines = bench_store_log_lines(args.repeat, tmp)
    return [
        (
            "run.log() one call, median latency",
            f"{log['call']:,.0f} ns",
            f"deque.append {log['call_base']:,.0f} ns",
            f"{log['call'] / log['call_base']:.1f}x",
        ),
        (
            "run.log() tight loop, incl. exporter work",
            f"{log['loop']:,.0f} ns",
            f"deque.append {log['loop_base']:,.0f} ns",
            f"{log['loop'] / log['loop_base']:.1f}x",
        ),
        (
            f"ingest packed, {args.points:,} pts -> collector -> store",
            f"{packed:,.0f} pts/s",
            f"raw SQLite rows {rows_rate:,.0f} pts/s",
            f"{packed / rows_rate:.1f}x",
        ),
        (
            f"ingest OTel SDK, 1 pt/record ({args.otel_records:,})",
            f"{otel:,.0f} pts/s",
            f"raw SQLite rows {rows_rate:,.0f} pts/s",
            f"{otel / rows_rate:.2f}x",
        ),
        (
            "store log lines, 50,000 in one commit (SQLite)",
            f"{log_lines:,.0f} lines/s",
            f"raw SQLite rows {rows_rate:,.0f} pts/s",
            f"{log_lines / rows_rate:.2f}x",
        ),
        (
            f"read {args.points:,}-pt vector (query API, binary)",
            f"{reads['binary']:.1f} ms",
            f"raw SQLite select {reads['raw']:.1f} ms",
            f"{reads['raw'] / reads['binary']:.1f}x faster",
        ),
        (
            "downsampled view, 2,000 pts",
            f"{reads['downsampled']:.1f} ms",
            f"raw SQLite select {reads['raw']:.1f} ms",
            f"{reads['raw'] / reads['downsampled']:.1f}x faster",
        ),
    ]


def print_table(rows: list[tuple[str, str, str, str]], repeat: int) -> None:
    header = ("measure", f"runlog (median of {repeat})", "baseline, same run", "ratio")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
