"""Several collectors, one PostgreSQL: three collector processes share one store while
clients spread over them; every point is kept once, summaries and status histories are
right, and a batch replayed to another collector is not applied twice."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from _otlp_json import _attrs, record
from collector_process import Collector, run_collector
from postgres import scratch_schema

from collectors.store import open_store
from runlog import conventions as c

RUNS, REQUESTS, POINTS = 6, 24, 250  # per run: REQUESTS packed chunks of POINTS points
STATUSES = (c.STATUS_PREPARING, c.STATUS_RUNNING, c.STATUS_FINALIZING, c.STATUS_COMPLETED)


@pytest.fixture
def shared_url(pg_database: tuple[Any, str]) -> Iterator[str]:
    """A PostgreSQL schema migrated to the newest revision."""
    scratch, database = pg_database
    with scratch_schema(scratch, database) as url:
        open_store(url).close()
        yield url


@pytest.fixture
def collectors(tmp_path: Path, shared_url: str) -> Iterator[list[Collector]]:
    """Three collector processes (each with its own data directory) on one store."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                run_collector(tmp_path / f"node{i}", ["--store", shared_url, "--no-grpc"])
            )
            for i in range(3)
        ]


def packed(start: int, values: np.ndarray) -> dict[str, Any]:
    """One packed record of float points with steps ``start, start+1, …``."""
    n = len(values)
    steps = np.arange(start, start + n, dtype="<i8")
    return record(
        c.EVENT_METRIC_PACKED,
        {
            c.METRIC_NAME: "loss",
            c.METRIC_DTYPE: c.DTYPE_FLOAT,
            c.METRIC_STEPS: steps.tobytes(),
            c.METRIC_TIMESTAMPS: (steps + 1_700_000_000_000_000_000).tobytes(),
            c.METRIC_VALUES: values.astype("<f8").tobytes(),
        },
    )


def body(run_id: str, batch_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    resource = _attrs({c.RUN_ID: run_id, c.EXPERIMENT: "shared", c.BATCH_ID: batch_id})
    return {
        "resourceLogs": [
            {"resource": {"attributes": resource}, "scopeLogs": [{"logRecords": records}]}
        ]
    }


def expected_values(run: int) -> np.ndarray:
    """The values of run *run*'s steps 0…N-1: distinct per run, with a known min and max."""
    return np.sin(np.arange(REQUESTS * POINTS) / 37.0) * (run + 1)


def send_chunk(http: httpx.Client, nodes: list[Collector], run: int, k: int) -> list[int]:
    """Chunk *k* of run *run* to one collector, then the same batch again to the next one
    (a client that lost the reply and replayed elsewhere); returns both status codes."""
    values = expected_values(run)[k * POINTS : (k + 1) * POINTS]
    payload = body(f"shared-{run}", f"batch-{run}-{k}", [packed(k * POINTS, values)])
    codes = []
    for node in (nodes[(run + k) % 3], nodes[(run + k + 1) % 3]):
        response = http.post(f"{node.endpoint}{c.OTLP_LOGS_PATH}", json=payload)
        codes.append(response.status_code)
    return codes


def send_statuses(http: httpx.Client, nodes: list[Collector], run: int) -> None:
    """The run's status changes, one after another, each through another collector."""
    for i, status in enumerate(STATUSES):
        event = c.EVENT_RUN_END if status == c.STATUS_COMPLETED else c.EVENT_RUN_STATUS
        payload = body(f"shared-{run}", f"status-{run}-{i}", [record(event, {c.STATUS: status})])
        response = http.post(f"{nodes[(run + i) % 3].endpoint}{c.OTLP_LOGS_PATH}", json=payload)
        assert 200 == response.status_code, response.text


def test_three_collectors_keep_every_point_once(
    collectors: list[Collector], shared_url: str
) -> None:
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(8) as pool:
        jobs = [(run, k) for k in range(REQUESTS) for run in range(RUNS)]
        codes = list(pool.map(lambda job: send_chunk(http, collectors, *job), jobs))
        list(pool.map(lambda run: send_statuses(http, collectors, run), range(RUNS)))

    assert [[200, 200]] * len(jobs) == codes
    store = open_store(shared_url, migrate=False)
    try:
        for run in range(RUNS):
            check_run(store, run)
    finally:
        store.close()


def check_run(store: Any, run: int) -> None:
    run_id, expected = f"shared-{run}", expected_values(run)
    vector = store.read_metric(run_id, "loss")
    order = np.argsort(vector.steps, kind="stable")
    (summary,) = store.list_metrics(run_id)
    history = [change.status for change in store.status_history(run_id)]

    assert list(range(REQUESTS * POINTS)) == vector.steps[order].tolist()  # none lost, none twice
    assert expected.tolist() == vector.values[order].tolist()
    assert (len(expected), float(vector.values[-1])) == (summary.count, summary.last)
    assert (expected.min(), expected.max()) == (summary.min, summary.max)
    assert [c.STATUS_RUNNING, *STATUSES] == history
    assert c.STATUS_COMPLETED == store.get_run(run_id).status


def test_live_updates_reach_every_collector(collectors: list[Collector]) -> None:
    """A studio page open on one collector hears what a client sent to another."""
    writer, reader = collectors[0], collectors[2]
    seen: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{reader.endpoint}/api/v1/studio/events", timeout=30) as stream:
        lines = stream.iter_lines()
        assert "retry: 2000" == next(lines)  # the stream is open: now send through the other
        payload = body("live-1", "live-batch", [packed(0, np.arange(5.0))])
        assert 200 == httpx.post(f"{writer.endpoint}{c.OTLP_LOGS_PATH}", json=payload).status_code
        deadline = time.monotonic() + 20  # the stream pings every 15 s
        for line in lines:
            if time.monotonic() > deadline:
                break
            if line.startswith("data:") and "live-1" in line:
                seen.append(json.loads(line[5:]))
                break

    assert 1 == len(seen), "no change event reached the other collector"
    assert {"what": ["metrics"], "metrics": ["loss"]} == seen[0]["runs"]["live-1"]
    assert "shared" == seen[0]["experiments_of"]["live-1"]
