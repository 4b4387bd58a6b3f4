"""Fault scenarios: `python bench/faults.py [--quick] [--only NAME ...]` prints a table.

Each scenario runs real collector processes on free loopback ports and real training
processes (`runlog.start_run` + `run.log`), breaks something on purpose, then replays the
spool (`runlog sync`) and counts what the store kept:

* ``outage-sigterm`` / ``outage-sigkill``: one trainer logs 1,000 points/s; the collector
  is stopped (SIGTERM, or SIGKILL) for a third of the time and restarted on the same port;
* ``crash``: 4 trainers log flat out while the collector is SIGKILLed and restarted
  repeatedly (20 times; 3 with ``--quick``);
* ``exit-burst``: 4 trainers log flat out for 20 s (3 s with ``--quick``) and exit normally;
* ``load``: 50 concurrent runs (5 processes of 10 runs) at 200 points/s each.

Printed per scenario: points sent (logged), stored, duplicated, recovered from the spool by
`runlog sync`, lost; `run.log` p50/p99/max per phase (µs); collector restarts survived;
5xx answers the clients met; peak RSS of the collector and of the largest trainer; SQLite
integrity. Everything talks to loopback only and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from collector_process import free_port, wait_healthy  # noqa: E402

from runlog.client import Client  # noqa: E402
from runlog.exceptions import NotFoundError  # noqa: E402
from runlog.spool import sync  # noqa: E402

TRAINER = textwrap.dedent(
    """
    import json, os, sys, time, runlog
    rate, stop = float(sys.argv[1]), sys.argv[2]  # runs until the file *stop* exists
    runs, prefix = int(sys.argv[3]), sys.argv[4]
    opened = [runlog.start_run("faults", run_id=f"{prefix}-{i}") for i in range(runs)]
    clock, wall, exists = time.perf_counter_ns, time.time, os.path.exists
    samples, counts = [], [0] * runs
    print("started", flush=True)
    if rate > 0:  # paced: every call timed
        interval, due, i = 1.0 / rate, time.monotonic(), 0
        while i % 50 or not exists(stop):
            run = opened[i % runs]
            t0 = clock()
            run.log("x", 1.0)
            samples.append((wall(), clock() - t0))
            counts[i % runs] += 1
            i += 1
            due += interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    else:  # flat out: every 1000th call timed
        log = opened[0].log
        while not exists(stop):
            for _ in range(999):
                log("x", 1.0)
            t0 = clock()
            log("x", 1.0)
            samples.append((wall(), clock() - t0))
            counts[0] += 1000
    for run in opened:
        run.complete()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) harness
    status = open("/proc/self/status").read().split("VmHWM:")[1]
    rss = int(status.split()[0])
    print(json.dumps({"counts": counts, "samples": samples, "rss_kb": rss}), flush=True)
    """
)


_children: list[subprocess.Popen[Any]] = []


@dataclass
class Result:
    """What one scenario measured."""

    name: str
    sent: int = 0
    stored: int = 0
    duplicated: int = 0
    recovered: int = 0
    restarts: int = 0
    errors_5xx: int = 0
    collector_rss_mb: float = 0.0
    trainer_rss_mb: float = 0.0
    integrity: str = ""
    phases: dict[str, tuple[float, float, float]] = field(default_factory=dict)


class Collector:
    """A collector process that can be killed and restarted on the same port and data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port, self.grpc_port = free_port(), free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / "collector.log"
        self.peak_rss_kb = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "collectors", "--data-dir", str(self.data_dir)]
        command += [
            "--port",
            str(self.port),
            "--grpc-port",
            str(self.grpc_port),
        ]  # no spool replay at start (the default)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=_clean_env()
            )
        _children.append(self.process)
        wait_healthy(
            "collector", self.process, self.endpoint + "/healthz", self.log_path.read_text, 180
        )

    def sample_rss(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.sample_rss()
        self.process.send_signal(how)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLOG_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, **extra}


def _trainers(
    tmp: Path, collector: Collector, processes: int, rate: float, runs: int = 1
) -> list[subprocess.Popen[str]]:
    """Start trainers and wait until each has started its runs (they stop on `_stop`)."""
    script = tmp / "trainer.py"
    script.write_text(TRAINER)
    env = _clean_env(
        RUNLOG_ENDPOINT=collector.endpoint,
        RUNLOG_SPOOL_DIR=str(tmp / "spool"),
        RUNLOG_FLUSH_TIMEOUT="5",
    )
    started = [
        subprocess.Popen(
            [sys.executable, str(script), str(rate), str(tmp / "stop"), str(runs), f"p{index}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(processes)
    ]
    _children.extend(started)
    for process in started:
        assert process.stdout is not None
        process.stdout.readline()
    return started


def _stop(tmp: Path) -> None:
    (tmp / "stop").touch()


def _finish(
    result: Result,
    tmp: Path,
    collector: Collector,
    trainers: list[subprocess.Popen[str]],
    marks: list[tuple[str, float]],
) -> Result:
    """Collect the trainers' reports, replay the spool, count what was stored."""
    reports, run_ids = [], []
    for index, process in enumerate(trainers):
        out, err = process.communicate(timeout=600)
        report = json.loads(out.strip().splitlines()[-1])
        reports.append(report)
        run_ids += [f"p{index}-{i}" for i in range(len(report["counts"]))]
        result.sent += sum(report["counts"])
        result.errors_5xx += sum("answered 5" in line for line in err.splitlines())
        if os.environ.get("FAULTS_DEBUG"):
            print(err, file=sys.stderr)
        result.trainer_rss_mb = max(result.trainer_rss_mb, report["rss_kb"] / 1024)
    collector.sample_rss()
    before = _stored(collector, run_ids)[0]
    if os.environ.get("FAULTS_DEBUG"):
        print("stored before sync", before, run_ids, file=sys.stderr)
    sync(collector.endpoint, directory=tmp / "spool")
    result.stored, unique = _stored(collector, run_ids)
    result.duplicated = result.stored - unique
    result.recovered = result.stored - before
    collector.sample_rss()
    result.collector_rss_mb = collector.peak_rss_kb / 1024
    collector.stop()
    with sqlite3.connect(collector.data_dir / "runlog.db") as db:
        result.integrity = str(db.execute("PRAGMA integrity_check").fetchone()[0])
    samples = [tuple(s) for report in reports for s in report["samples"]]
    result.phases = _phases(samples, marks)
    return result


def _stored(collector: Collector, run_ids: list[str]) -> tuple[int, int]:
    """(points stored, distinct steps) over *run_ids*."""
    stored = unique = 0
    with Client(collector.endpoint) as client:
        for run_id in run_ids:
            try:
                series = client.get_metric(run_id, "x", binary=True)
            except NotFoundError:
                continue
            stored += len(series.steps)
            unique += len(set(series.steps))
    return stored, unique


def _phases(
    samples: list[tuple[Any, ...]], marks: list[tuple[str, float]]
) -> dict[str, tuple[float, float, float]]:
    """p50/p99/max (µs) of run.log per phase; *marks* are (phase, wall time it began)."""
    phases: dict[str, tuple[float, float, float]] = {}
    for index, (name, begin) in enumerate(marks):
        end = marks[index + 1][1] if index + 1 < len(marks) else float("inf")
        values = sorted(ns / 1000 for t, ns in samples if begin <= t < end)
        if values:
            p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
            phases[name] = (statistics.median(values), p99, values[-1])
    return phases


# --- scenarios -----------------------------------------------------------------------------------
def outage(tmp: Path, how: signal.Signals, seconds: float) -> Result:
    result = Result(f"outage-{how.name.lower()}")
    collector = Collector(tmp / "data")
    collector.start()
    trainers = _trainers(tmp, collector, 1, 1000)
    marks = [("before", time.time())]
    time.sleep(seconds / 3)
    collector.stop(how)
    marks.append(("outage", time.time()))
    time.sleep(seconds / 3)
    collector.start()
    result.restarts = 1
    marks.append(("after", time.time()))
    time.sleep(seconds / 3)
    _stop(tmp)
    return _finish(result, tmp, collector, trainers, marks)


def crash(tmp: Path, kills: int, seconds: float) -> Result:
    result = Result("crash")
    collector = Collector(tmp / "data")
    collector.start()
    trainers = _trainers(tmp, collector, 4, 0)
    marks = [("under kills", time.time())]
    for _ in range(kills):
        time.sleep(seconds / (kills + 1))
        collector.stop(signal.SIGKILL)
        collector.start()
        result.restarts += 1
    marks.append(("after", time.time()))
    time.sleep(seconds / (kills + 1))
    _stop(tmp)
    return _finish(result, tmp, collector, trainers, marks)


def exit_burst(tmp: Path, seconds: float) -> Result:
    result = Result("exit-burst")
    collector = Collector(tmp / "data")
    collector.start()
    trainers = _trainers(tmp, collector, 4, 0)
    marks = [("flat out", time.time())]
    time.sleep(seconds)
    _stop(tmp)
    return _finish(result, tmp, collector, trainers, marks)


def load(tmp: Path, seconds: float) -> Result:
    result = Result("load (50 runs)")
    collector = Collector(tmp / "data")
    collector.start()
    trainers = _trainers(tmp, collector, 5, 200 * 10, runs=10)
    marks = [("50 runs", time.time())]
    time.sleep(seconds)
    _stop(tmp)
    return _finish(result, tmp, collector, trainers, marks)


def print_table(results: list[Result]) -> None:
    head = (
        "| scenario | sent | stored | dup | from spool | lost | run.log p50/p99/max µs by phase "
        "| restarts | 5xx | peak RSS collector / trainer | integrity |"
    )
    print(head)
    print("|" + "---|" * 11)
    for r in results:
        phases = "; ".join(
            f"{name} {p50:.1f}/{p99:.1f}/{top:.0f}" for name, (p50, p99, top) in r.phases.items()
        )
        lost = r.sent - (r.stored - r.duplicated)
        print(
            f"| {r.name} | {r.sent:,} | {r.stored:,} | {r.duplicated:,} | {r.recovered:,} "
            f"| {lost:,} | {phases} | {r.restarts} | {r.errors_5xx} "
            f"| {r.collector_rss_mb:.0f} MB / {r.trainer_rss_mb:.0f} MB | {r.integrity} |"
        )


SCENARIOS = ("outage-sigterm", "outage-sigkill", "crash", "exit-burst", "load")


def _run(name: str, tmp: Path, quick: bool) -> Result:
    outage_s, kills, crash_s, burst_s, load_s = (6, 3, 8, 3, 5) if quick else (30, 20, 60, 20, 30)
    if name == "outage-sigterm":
        return outage(tmp, signal.SIGTERM, outage_s)
    if name == "outage-sigkill":
        return outage(tmp, signal.SIGKILL, outage_s)
    if name == "crash":
        return crash(tmp, kills, crash_s)
    if name == "exit-burst":
        return exit_burst(tmp, burst_s)
    return load(tmp, load_s)


def _stop_children(tmp: Path) -> None:
    """Whatever happened, stop this scenario's trainers and collectors (by their pids)."""
    _stop(tmp)
    for process in list(_children):
        if process.poll() is None:
            process.kill()
            process.wait()
    _children.clear()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a few minutes)")
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, default=list(SCENARIOS))
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the children on the way out
    results = []
    for name in args.only:
        with tempfile.TemporaryDirectory(
            prefix=f"runlog-faults-{name}-", ignore_cleanup_errors=True
        ) as folder:
            try:
                results.append(_run(name, Path(folder), args.quick))
            finally:
                _stop_children(Path(folder))
        print(f"done: {name}", file=sys.stderr, flush=True)
    print_table(results)


if __name__ == "__main__":
    main()
