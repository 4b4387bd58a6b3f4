"""``runlog run`` launch overhead: a script that prints one line, with and without runlog.

``python bench/launch.py [--repeat N] [--runlog-path DIR]`` starts a collector on free
loopback ports and times, in turn (A B C A B C …, so drift hits each alike), the whole
process of:

* ``python hello.py`` (the baseline);
* ``runlog run --no-autolog -- python hello.py``;
* ``runlog run -- python hello.py`` (autolog on: the bootstrap, logging capture, hooks).

Rows: median wall seconds and median CPU seconds (user + system of the process and its
children, from ``os.wait4``), and the ratio of the medians to the baseline. With
``--before DIR`` the two ``runlog run`` rows are timed a second time, in the same turns,
with the runlog package found in DIR (e.g. ``git archive OLD runlog | tar -x -C DIR``):
before and after in one machine state.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from core import Collector  # noqa: E402

SCRIPT = 'print("hello")\n'


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process tree it waited for) of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command} exited with {process.returncode}")
    # ru_* of wait4 cover the child and the grandchildren it waited for.
    return wall, usage.ru_utime + usage.ru_stime


def commands(
    folder: Path, env: dict[str, str], before: Path | None
) -> dict[str, tuple[list[str], dict[str, str]]]:
    python, script = sys.executable, str(folder / "hello.py")
    runlog = [python, "-m", "runlog.cli", "run", "-e", "bench-launch"]
    rows = {
        "python hello.py": ([python, script], env),
        "runlog run --no-autolog": ([*runlog, "--no-autolog", "--", python, script], env),
        "runlog run (autolog)": ([*runlog, "--", python, script], env),
    }
    if before is not None:
        old = {**env, "PYTHONPATH": str(before.resolve())}
        rows["before: --no-autolog"] = (rows["runlog run --no-autolog"][0], old)
        rows["before: (autolog)"] = (rows["runlog run (autolog)"][0], old)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--before", type=Path, help="also time the runlog package in DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "hello.py").write_text(SCRIPT)
        collector = Collector(folder / "data")
        try:
            env = {**os.environ, "RUNLOG_ENDPOINT": collector.endpoint}
            env["RUNLOG_SPOOL_DIR"] = str(folder / "spool")
            rows = commands(folder, env, args.before)
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
            for command, row_env in rows.values():  # warm-up, not counted
                timed(command, row_env, folder)
            for _ in range(args.repeat):
                for name, (command, row_env) in rows.items():
                    samples[name].append(timed(command, row_env, folder))
        finally:
            collector.stop()
    report(samples, args)


def report(samples: dict[str, list[tuple[float, float]]], args: argparse.Namespace) -> None:
    print(f"runlog run launch overhead (medians of {args.repeat}; load average {load()})")
    print(f"{'command':<28}{'wall s':>9}{'x base':>8}{'cpu s':>9}{'x base':>8}")
    base_wall = statistics.median(w for w, _ in samples["python hello.py"])
    base_cpu = statistics.median(c for _, c in samples["python hello.py"])
    for name, values in samples.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        print(f"{name:<28}{wall:>9.3f}{wall / base_wall:>8.1f}{cpu:>9.3f}{cpu / base_cpu:>8.1f}")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
