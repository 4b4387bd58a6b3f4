"""The exporter pipeline against real collector processes: live export, the exit hand-over,
heartbeats, backpressure, and bad strings (issue 9, client side)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from collector_process import free_port, run_collector

import runlog
from runlog import conventions as c
from runlog.client import Client
from runlog.exceptions import NotFoundError
from runlog.spool import sync

pytestmark = pytest.mark.usefixtures("client_env")


def _wait_for(check: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll *check* until it returns something truthy or *timeout* passes; return the last."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def _count(client: Client, run_id: str, name: str) -> int:
    try:
        summaries = client.list_metrics(run_id)
    except NotFoundError:
        return 0
    return sum(int(m["count"]) for m in summaries if m["name"] == name)


def _script(tmp_path: Path, body: str, name: str = "train.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def _env(endpoint: str, spool: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLOG_", "OTEL_"))}
    return {**env, c.ENV_ENDPOINT: endpoint, c.ENV_SPOOL_DIR: str(spool), **extra}


# --- item 1: live export ---------------------------------------------------------------------
def test_a_point_logged_without_flush_is_queryable_within_one_second(collector: Any) -> None:
    ws = runlog.Workspace(collector.endpoint)
    run = runlog.Experiment(ws, "live").start_logging()
    client = Client(collector.endpoint)
    run.log("loss", 0.5)
    run.log("loss", 0.25)
    # the acceptance bound of issue 9: queryable within 1 s, with no flush
    assert 2 == _wait_for(lambda: _count(client, run.id, "loss") == 2 and 2, timeout=1.0)
    run.log("loss", 0.125)  # and later points too, not only the first cycle's
    assert 3 == _wait_for(lambda: _count(client, run.id, "loss") == 3 and 3, timeout=1.0)
    run.complete()
    assert [0.5, 0.25, 0.125] == run.get_metrics()["loss"]


# --- item 3: one bad string ------------------------------------------------------------------
def test_a_lone_surrogate_is_dropped_alone_with_one_warning(
    collector: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="runlog.internal")
    ws = runlog.Workspace(collector.endpoint)
    run = runlog.Experiment(ws, "surrogate").start_logging()
    for i in range(1000):
        run.log("s", f"v{i}")
    run.log("s", "bad \ud800 name")
    run.log("s", "also \udcff bad")
    for i in range(1000, 2000):
        run.log("s", f"v{i}")
    run.tag("good", "yes")
    run.tag("bad", "\ud800")
    run.log_params({"alpha": "0.5", "beta": "\udcff"})
    run.log("x\ud800", 1.0)
    run.complete()
    assert [f"v{i}" for i in range(2000)] == run.get_metrics()["s"]
    info = ws.client().get_run(run.id)
    assert {"good": "yes"} == {k: v for k, v in info["tags"].items() if not k.startswith("_")}
    assert {"alpha": "0.5"} == info["params"]
    assert "Completed" == info["status"]
    surrogate_warnings = [r for r in caplog.records if "surrogate" in r.getMessage()]
    # one for the metric s, one each for the tag, the param and the metric name
    assert 4 == len(surrogate_warnings), [r.getMessage() for r in surrogate_warnings]


def test_a_log_line_with_a_lone_surrogate_keeps_its_request(
    collector: Any, root_logger: logging.Logger
) -> None:
    ws = runlog.Workspace(collector.endpoint)
    run = runlog.Experiment(ws, "surrogate-log").start_logging()
    runlog.install_logging(run=run)
    root_logger.setLevel(logging.INFO)  # install_logging changes no level (restored after)
    logging.getLogger("user").info("first")
    logging.getLogger("user").info("file %s", "caf\udce9.txt")
    logging.getLogger("user").info("last")
    run.log("loss", 1.0)
    run.complete()
    assert 1.0 == run.get_metrics()["loss"]
    messages = [line["message"] for line in run.get_logs()]
    assert ["first", "file caf\\udce9.txt", "last"] == messages


# --- item 2: the exit hands over exactly once -------------------------------------------------
FLAT_OUT = """
    import sys, time, runlog
    seconds = float(sys.argv[1])
    run = runlog.start_run("burst", run_id=sys.argv[2])
    end = time.monotonic() + seconds
    n = 0
    log = run.log
    while time.monotonic() < end:
        for _ in range(1000):
            log("x", 1.0)
        n += 1000
    print(n, flush=True)
"""


def test_four_processes_logging_flat_out_then_exiting_lose_nothing(
    start_collector: Callable[..., Any], tmp_path: Path
) -> None:
    """Every point is stored or spooled, and `runlog sync` stores the spooled ones: once."""
    collector = start_collector()
    script = _script(tmp_path, FLAT_OUT)
    spool = tmp_path / "spool"
    env = _env(
        collector.endpoint,
        spool,
        **{c.ENV_FLUSH_TIMEOUT: "0.5", c.ENV_MAX_BUFFERED_POINTS: "300000"},
    )
    run_ids = [f"burst-{os.getpid()}-{i}" for i in range(4)]
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), "3", run_id],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run_id in run_ids
    ]
    logged, errors = [], []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert 0 == process.returncode, err
        logged.append(int(out.split()[-1]))
        errors.append(err)
    assert not any("Traceback" in err for err in errors), errors
    result = sync(collector.endpoint, directory=spool)
    assert 0 == result.failed
    assert [] == sorted(p.name for p in spool.iterdir() if not p.name.startswith("."))
    with Client(collector.endpoint) as client:
        for run_id, expected in zip(run_ids, logged, strict=True):
            assert expected == _count(client, run_id, "x"), (run_id, "\n".join(errors))
            steps = client.get_metric(run_id, "x", binary=True).steps
            assert list(range(expected)) == sorted(steps)
            assert "Completed" == client.get_run(run_id)["status"]


def test_the_exit_message_says_how_many_points_went_where(
    start_collector: Callable[..., Any], tmp_path: Path
) -> None:
    collector = start_collector()
    spool = tmp_path / "spool"
    script = _script(
        tmp_path,
        """
        import os, signal, runlog
        run = runlog.start_run("stalled", run_id="stalled-1")
        run.log("x", 1.0)
        run.flush(10)
        os.kill(int(os.environ["COLLECTOR_PID"]), signal.SIGSTOP)
        for i in range(5000):
            run.log("x", float(i))
        """,
    )
    env = _env(collector.endpoint, spool, COLLECTOR_PID=str(collector.process.pid))
    env[c.ENV_FLUSH_TIMEOUT] = "1"
    try:
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        collector.process.send_signal(signal.SIGCONT)
    assert 0 == done.returncode, done.stderr
    assert "1 point(s) sent to" in done.stderr, done.stderr
    assert "5000 point(s) in" in done.stderr and str(spool) in done.stderr, done.stderr
    assert 0 == sync(collector.endpoint, directory=spool).failed
    with Client(collector.endpoint) as client:
        assert 5001 == _count(client, "stalled-1", "x")
        assert "Completed" == client.get_run("stalled-1")["status"]


# --- item 4: exit during the retry backoff -----------------------------------------------------
def test_a_client_exiting_during_its_backoff_tries_the_collector_once_more(
    tmp_path: Path,
) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    ready = tmp_path / "collector-is-up"
    script = _script(
        tmp_path,
        f"""
        import os, time, runlog
        run = runlog.start_run("backoff", run_id="backoff-1")
        for i in range(1000):
            run.log("x", float(i))
        time.sleep(9)  # the exporter failed 4 times (retries after 1, 2, 5 s): next in 10 s
        print("offline", flush=True)
        while not os.path.exists({str(ready)!r}):
            time.sleep(0.05)
        for i in range(1000):
            run.log("x", float(i))
        """,
    )
    spool = tmp_path / "spool"
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=_env(endpoint, spool),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "offline" == process.stdout.readline().strip()
        with run_collector(tmp_path / "data", port=port) as collector:
            ready.touch()
            _, err = process.communicate(timeout=60)
            assert 0 == process.returncode, err
            with Client(collector.endpoint) as client:
                assert 2000 == _count(client, "backoff-1", "x"), err
                assert "Completed" == client.get_run("backoff-1")["status"]
            assert [] == [p for p in spool.glob("*.logs")]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- item 5: heartbeats --------------------------------------------------------------------------
def test_a_sigkilled_trainer_keeps_all_but_its_last_second_and_goes_not_responding(
    start_collector: Callable[..., Any], tmp_path: Path
) -> None:
    collector = start_collector(args=["--heartbeat-timeout", "1", "--dead-after", "600"])
    script = _script(
        tmp_path,
        """
        import time, runlog
        run = runlog.start_run("killed", run_id="killed-1")
        step = 0
        while True:
            for _ in range(100):
                run.log("loss", 1.0 / (step + 1))
                step += 1
                time.sleep(0.001)
            print(step, flush=True)
        """,
    )
    env = _env(collector.endpoint, tmp_path / "spool", **{c.ENV_HEARTBEAT_INTERVAL: "0.2"})
    process = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    first = int(process.stdout.readline())  # the trainer's rate, measured once it runs
    started, steps = time.monotonic(), first
    while steps < 2000:
        steps = int(process.stdout.readline())
    per_second = (steps - first) / (time.monotonic() - started)
    process.kill()
    process.wait()
    with Client(collector.endpoint) as client:
        assert "NotResponding" == _wait_for(
            lambda: client.get_run("killed-1")["status"] == "NotResponding" and "NotResponding",
            timeout=30,
        )
        stored = _count(client, "killed-1", "loss")
    assert stored >= steps - per_second, (stored, steps, per_second)


def test_a_quiet_live_run_stays_running_on_heartbeats_until_its_process_dies(
    start_collector: Callable[..., Any], tmp_path: Path
) -> None:
    """Silence longer than the timeout is fine while heartbeats come; a kill is noticed."""
    collector = start_collector(args=["--heartbeat-timeout", "1", "--dead-after", "600"])
    script = _script(
        tmp_path,
        """
        import time, runlog
        run = runlog.start_run("quiet", run_id="quiet-1")
        run.flush(10)
        print("started", flush=True)
        time.sleep(300)
        """,
    )
    env = _env(collector.endpoint, tmp_path / "spool", **{c.ENV_HEARTBEAT_INTERVAL: "0.2"})
    process = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    try:
        assert "started" == process.stdout.readline().strip()
        time.sleep(3)  # three heartbeat timeouts of silence but for the heartbeats
        with Client(collector.endpoint) as client:
            assert ["Running"] == [s["status"] for s in client.get_statuses("quiet-1")]
            process.kill()
            process.wait()
            assert _wait_for(
                lambda: client.get_run("quiet-1")["status"] == "NotResponding", timeout=30
            )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- item 6: backpressure ----------------------------------------------------------------------
def test_a_stalled_collector_makes_the_buffer_spill_to_disk_and_nothing_is_lost(
    start_collector: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="runlog.internal")
    monkeypatch.setenv(c.ENV_MAX_BUFFERED_POINTS, "10000")
    collector = start_collector()
    spool = tmp_path / "spool"
    ws = runlog.Workspace(collector.endpoint)
    run = runlog.Experiment(ws, "spill").start_logging()
    run.log("x", 0.0)
    assert run.flush(10)
    collector.process.send_signal(signal.SIGSTOP)
    try:
        for i in range(1, 200_001):
            run.log("x", float(i))
        assert _wait_for(lambda: list(spool.glob("*.logs")), timeout=30)
        assert _wait_for(lambda: run._pipeline._packer.buffered() <= 10_000, timeout=30)
    finally:
        collector.process.send_signal(signal.SIGCONT)
    run.complete()
    sync(collector.endpoint, directory=spool)
    with Client(collector.endpoint) as client:
        assert 200_001 == _count(client, run.id, "x")
        assert list(range(200_001)) == sorted(client.get_metric(run.id, "x", binary=True).steps)
    spills = [r for r in caplog.records if "spilling" in r.getMessage()]
    assert 1 == len(spills)


def test_a_loop_logging_flat_out_with_no_collector_stays_within_its_memory_bound(
    collector: Any, tmp_path: Path
) -> None:
    # 4,000,000 points held in memory would take ~300 MB (without the throttle this process
    # grew by 210-225 MB for 3,000,000). With a bound of 20,000 points, what the process may
    # add is one watchdog look's worth of points (20 ms of a ~5M calls/s loop: ~100,000 points,
    # ~15 MB) plus the spill's packed copy of them and allocator slack: 25-50 MB measured.
    points, growth_limit_kb = 4_000_000, 120_000
    spool = tmp_path / "spool"
    script = _script(
        tmp_path,
        """
        import os
        import time
        import runlog

        def peak_kb():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

        ws = runlog.Workspace(os.environ["RUNLOG_ENDPOINT"])
        run = runlog.Experiment(ws, "flat").start_logging()
        run.log("x", 0.0)
        run.flush(5)  # the exporter has gone offline (and imported what it sends with)
        before = peak_kb()
        log = run.log
        for i in range(1, POINTS):
            log("x", float(i))
        grown = peak_kb() - before
        deadline = time.monotonic() + 5  # the burst is over: run.log is plain again
        while hasattr(run._series["x"], "share") and time.monotonic() < deadline:
            time.sleep(0.05)
        plain = run._series["x"] == run._series["x"].__self__.append
        print(run.id, grown, plain, flush=True)
        run.complete()
        """.replace("POINTS", str(points)),
    )
    unreachable = f"http://127.0.0.1:{free_port()}"
    env = _env(unreachable, spool, **{c.ENV_MAX_BUFFERED_POINTS: "20000"})
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert 0 == done.returncode, done.stderr
    run_id, growth_kb, plain = done.stdout.split()
    assert int(growth_kb) < growth_limit_kb, f"grew by {int(growth_kb):,} kB"
    assert "True" == plain  # throttling ended with the burst
    assert "slowed" in done.stderr  # the one warning says what happens to the loop
    result = sync(collector.endpoint, directory=spool, everything=True)  # it names the dead one
    assert {} == result.undelivered
    with Client(collector.endpoint) as client:
        assert points == _count(client, run_id, "x")
