"""Runs whose producer went silent: NotResponding, then Failed, and back on new data.

A real collector process with small timeouts gets hand-built OTLP heartbeats, metric records
and OTel gauges over HTTP and gRPC; the in-process tests pin the sweeper's clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from collector_process import Collector
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from otlp_builders import event, gauge, logs_request, metric, metrics_request

from collectors.liveness import Sweeper, sweep_interval
from collectors.ops import EnsureRun, Heartbeat
from collectors.store import SQLStore, open_store
from collectors.writer import Writer
from runlog import conventions as c

PROTOBUF = {"Content-Type": "application/x-protobuf"}
TIMEOUT_S, DEAD_AFTER_S = 2, 2
WAIT_S = 30.0  # generous: the machine running the tests may be busy


def run_of(collector: Collector, run_id: str) -> dict[str, Any]:
    with collector.client() as client:
        response = client.get(f"/api/v1/runs/{run_id}")
    assert 200 == response.status_code, response.text
    return response.json()  # type: ignore[no-any-return]  # JSON is Any


def wait_for(collector: Collector, run_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        run = run_of(collector, run_id)
        if run["status"] == status:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} is {run['status']}, not {status}, after {WAIT_S}s")


def post_logs(collector: Collector, run_id: str, *records: Any) -> None:
    body = logs_request(*records, resource={c.RUN_ID: run_id}).SerializeToString()
    with collector.client() as client:
        assert 200 == client.post(c.OTLP_LOGS_PATH, content=body, headers=PROTOBUF).status_code


@pytest.fixture
def watching(start_collector: Callable[..., Collector]) -> Collector:
    args = ["--heartbeat-timeout", str(TIMEOUT_S), "--dead-after", str(DEAD_AFTER_S)]
    return start_collector(args=args)


@pytest.mark.slow
def test_a_silent_run_goes_not_responding_failed_and_comes_back(watching: Collector) -> None:
    run_id, quiet = "live-" + uuid.uuid4().hex[:8], "quiet-" + uuid.uuid4().hex[:8]
    post_logs(watching, run_id, event(c.EVENT_RUN_HEARTBEAT))
    post_logs(watching, quiet, metric("loss", 1.0))  # never sends a heartbeat

    wait_for(watching, run_id, c.STATUS_NOT_RESPONDING)
    gauges = metrics_request(gauge("cpu", (0, 0.5, {})), resource={c.RUN_ID: run_id})
    with watching.client() as client:
        body = gauges.SerializeToString()
        assert 200 == client.post(c.OTLP_METRICS_PATH, content=body, headers=PROTOBUF).status_code
    back = run_of(watching, run_id)["status"]

    failed = wait_for(watching, run_id, c.STATUS_FAILED)
    with grpc.insecure_channel(watching.grpc_address) as channel:
        request = logs_request(metric("loss", 0.5, step=1), resource={c.RUN_ID: run_id})
        LogsServiceStub(channel).Export(request, timeout=10)
    reopened = run_of(watching, run_id)

    post_logs(watching, run_id, event(c.EVENT_RUN_END, {c.STATUS: c.STATUS_COMPLETED}))
    time.sleep(TIMEOUT_S + DEAD_AFTER_S + 1)
    post_logs(watching, run_id, metric("loss", 0.25, step=2))  # late: stays Completed
    ended = run_of(watching, run_id)

    assert c.STATUS_RUNNING == back
    assert failed["end_ns"] == failed["last_seen_ns"]
    assert "no sign of life from this run's process for 4 s" in failed["error"]
    assert (c.STATUS_RUNNING, None, None) == (
        reopened["status"],
        reopened["end_ns"],
        reopened["error"],
    )
    assert (c.STATUS_COMPLETED, None) == (ended["status"], ended["error"])
    assert c.STATUS_RUNNING == run_of(watching, quiet)["status"]
    assert "now NotResponding" in watching.log()


def test_heartbeat_timeout_zero_switches_the_watching_off(
    start_collector: Callable[..., Collector],
) -> None:
    collector = start_collector(args=["--heartbeat-timeout", "0"])
    run_id = "off-" + uuid.uuid4().hex[:8]
    post_logs(collector, run_id, event(c.EVENT_RUN_HEARTBEAT))

    time.sleep(1.0)

    assert c.STATUS_RUNNING == run_of(collector, run_id)["status"]


@pytest.mark.parametrize(
    "args", [["--heartbeat-timeout", "-1"], ["--dead-after", "nan"]], ids=["negative", "nan"]
)
def test_bad_liveness_times_are_refused_at_start(tmp_path: Path, args: list[str]) -> None:
    from collectors.__main__ import main

    assert 2 == main(["--data-dir", str(tmp_path), "--no-grpc", *args])


# --- in-process: the sweeper on a pinned clock ---------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLStore]:
    opened = open_store(tmp_path / "runlog.db")
    yield opened
    opened.close()


def test_the_sweeper_sweeps_through_the_writer_on_its_clock(store: SQLStore) -> None:
    writer = Writer(store)
    writer.start()
    now = [time.time_ns()]
    sweeper = Sweeper(writer, timeout_s=60, dead_after_s=600, clock=lambda: now[0])
    writer.submit([EnsureRun("r1", "E", now[0]), Heartbeat("r1")]).result(10)
    try:
        now[0] += 59 * 10**9
        sweeper.sweep()
        early = store.get_run("r1")
        now[0] += 2 * 10**9
        sweeper.sweep()
        late = store.get_run("r1")
    finally:
        writer.stop()

    assert early is not None and late is not None
    assert (c.STATUS_RUNNING, c.STATUS_NOT_RESPONDING) == (early.status, late.status)


@pytest.mark.parametrize(("timeout", "interval"), [(60, 5.0), (1, 0.25), (0.01, 0.05)])
def test_sweeps_come_a_quarter_timeout_apart_within_bounds(timeout: float, interval: float) -> None:
    assert interval == sweep_interval(timeout)


def test_a_heartbeat_of_an_unknown_run_creates_it_running_and_seen(collector: Collector) -> None:
    run_id = "hb-" + uuid.uuid4().hex[:8]
    before = time.time_ns()
    post_logs(collector, run_id, event(c.EVENT_RUN_HEARTBEAT))

    run = run_of(collector, run_id)

    assert c.STATUS_RUNNING == run["status"]
    assert before <= run["last_seen_ns"] <= time.time_ns()
