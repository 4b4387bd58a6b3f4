"""Submitted runs: time from ``Experiment.submit()`` to the script's first line of output.

``python bench/submit.py`` starts a collector on free loopback ports (and, unless
``--no-ray``, a local Ray head) and submits a script whose first statement prints a line.
Each row is the median of ``--repeat`` submissions of the time from calling ``submit()``
until that line can be read back from the collector (``GET /runs/{id}/logs``, polled every
10 ms), next to baselines measured in the same run:

* a bare interpreter: ``python -c "print(...)"`` until its line is read from a pipe;
* ``runlog run --no-autolog -- python first.py``: the same launcher and script, started
  directly (no snapshot, queue or compute target), until the line is in the collector.

Rows: the ``local`` target with a user-managed environment (nothing to build), with a
managed environment already in the cache (built once before timing), and the ``ray`` target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from core import Collector  # noqa: E402

import runlog  # noqa: E402
from runlog.client import Client  # noqa: E402

SCRIPT = 'print("first line", flush=True)\n'


def first_line_seen(client: Client, run_id: str, timeout: float = 120.0) -> float:
    """Poll the run's log until a line of the script's output is there; return that time."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if any(line.get("stream") for line in client.get_logs(run_id)):
                return time.perf_counter()
        except runlog.NotFoundError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"no output from run {run_id} after {timeout}s")


def submitted(
    ws: runlog.Workspace, folder: Path, target: str, env: runlog.Environment | None
) -> tuple[float, float]:
    """One submission: (seconds until submit() returned, until the first line was read)."""
    client = ws.client()
    config = runlog.ScriptRunConfig(str(folder), "first.py", compute_target=target)
    if env is not None:
        config.run_config.environment = env
    start = time.perf_counter()
    run = runlog.Experiment(ws, "bench-submit").submit(config)
    returned = time.perf_counter()
    seen = first_line_seen(client, run.id)
    run.wait_for_completion()
    return returned - start, seen - start


def bare_interpreter() -> float:
    start = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as child:
        assert child.stdout is not None
        child.stdout.readline()
        seen = time.perf_counter()
    return seen - start


def runlog_run(ws: runlog.Workspace, folder: Path, index: int) -> float:
    client = ws.client()
    name = f"direct-{os.getpid()}-{index}"
    env = {**os.environ, "RUNLOG_ENDPOINT": ws.endpoint}
    command = [sys.executable, "-m", "runlog.cli", "run", "-e", "bench-direct", "--name", name]
    command += ["--no-autolog", "--", sys.executable, "first.py"]
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL)
    while True:
        runs = client.search_runs("bench-direct", filter=f"attributes.name = '{name}'")
        if runs and any(line.get("stream") for line in client.get_logs(runs[0]["run_id"])):
            seen = time.perf_counter()
            break
        time.sleep(0.01)
    child.wait()
    return seen - start


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


@contextmanager
def ray_head(stack: ExitStack) -> Iterator[str]:
    from collectors.compute.ray import local_head

    temp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rl-ray-", dir="/tmp")))
    with local_head(temp) as address:
        yield address


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="submissions per row (median)")
    parser.add_argument("--no-ray", action="store_true", help="skip the ray target")
    args = parser.parse_args(argv)
    rows: list[tuple[str, float, float | None]] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "src"
        folder.mkdir()
        (folder / "first.py").write_text(SCRIPT)
        os.environ["RUNLOG_SPOOL_DIR"] = str(Path(tmp) / "spool")
        extra = ["--max-local-runs", "1"]
        if not args.no_ray:
            address = stack.enter_context(ray_head(stack))
            extra += ["--ray-address", address]
        collector = Collector(Path(tmp) / "data", extra)
        stack.callback(collector.stop)
        ws = runlog.Workspace(collector.endpoint)
        bare = median_of(args.repeat, bare_interpreter)
        direct = statistics.median(runlog_run(ws, folder, i) for i in range(args.repeat))
        rows += [("bare interpreter: start to first line", bare, None)]
        rows += [("runlog run (no queue): start to first line", direct, None)]
        managed = runlog.Environment("bench-managed")  # no requirements: built once, reused
        submitted(ws, folder, "local", managed)  # builds it (not timed)
        targets = [("local", None), ("local, managed env (cached)", managed)]
        if not args.no_ray:
            submitted(ws, folder, "ray", None)  # Ray's first job sets up its runtime env
            targets.append(("ray", None))
        for label, env in targets:
            target = label.split(",")[0]
            times = [submitted(ws, folder, target, env) for _ in range(args.repeat)]
            returned = statistics.median(t[0] for t in times)
            first = statistics.median(t[1] for t in times)
            rows.append((f"{label}: submit() returns", returned, None))
            rows.append((f"{label}: submit() to first line", first, direct))
    print_table(rows, args.repeat)


def print_table(rows: list[tuple[str, float, float | None]], repeat: int) -> None:
    print(f"\nsubmitted runs: medians of {repeat} (seconds; ratio vs runlog run in the same run)")
    width = max(len(label) for label, _, _ in rows)
    print(f"{'measure'.ljust(width)}  {'median s':>9}  {'vs runlog run':>13}")
    for label, value, baseline in rows:
        ratio = f"{value / baseline:.2f}x" if baseline else ""
        print(f"{label.ljust(width)}  {value:9.3f}  {ratio:>13}")


if __name__ == "__main__":
    main()
