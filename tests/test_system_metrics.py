"""System metrics: an opt-in sampler thread logging CPU, memory (and GPU) into the run."""

from __future__ import annotations

import time
from typing import Any

import pytest

import runlog
from runlog import system_metrics

pytest.importorskip("psutil")
pytestmark = pytest.mark.usefixtures("client_env")

NAMES = {
    "system/cpu_percent",
    "system/memory_used_bytes",
    "system/memory_percent",
    "system/process_rss_bytes",
}


@pytest.fixture
def ws(collector: Any, monkeypatch: pytest.MonkeyPatch) -> runlog.Workspace:
    monkeypatch.setenv(system_metrics.ENV_INTERVAL, "0.05")
    return runlog.Workspace(collector.endpoint)


def _wait_for_samples(run: runlog.Run, count: int = 3) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run.flush()
        metrics = run.get_metrics()
        if all(isinstance(metrics.get(n), list) and len(metrics[n]) >= count for n in NAMES):
            return
        time.sleep(0.05)


def test_start_run_samples_until_the_run_finishes(ws: runlog.Workspace) -> None:
    run = runlog.start_run("sysmetrics", workspace=ws, system_metrics=True)
    _wait_for_samples(run)
    run.complete()
    after_complete = run.get_metrics()
    time.sleep(0.3)
    assert after_complete == run.get_metrics()
    assert NAMES <= set(after_complete)
    assert all(0 <= v <= 100 for v in after_complete["system/memory_percent"])
    assert all(v > 0 for v in after_complete["system/process_rss_bytes"])
    assert all(type(v) is int for v in after_complete["system/memory_used_bytes"])


def test_env_var_turns_it_on(ws: runlog.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(system_metrics.ENV_ENABLED, "1")
    with runlog.Experiment(ws, "sysmetrics").start_logging() as run:
        _wait_for_samples(run, 1)
    assert NAMES <= set(run.get_metrics())


def test_off_by_default(ws: runlog.Workspace) -> None:
    with runlog.start_run("sysmetrics", workspace=ws) as run:
        run.log("x", 1.0)
        time.sleep(0.2)
    assert {"x": 1.0} == run.get_metrics()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("ON", True), ("0", False), ("", False), ("no", False)],
)
def test_enabled_by_env(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv(system_metrics.ENV_ENABLED, value)
    assert expected == system_metrics.enabled_by_env()


def test_sample_has_every_metric(ws: runlog.Workspace) -> None:
    with runlog.start_run("sysmetrics", workspace=ws) as run:
        sampler = system_metrics.Sampler(run, 60)
        assert NAMES <= set(sampler.sample())
