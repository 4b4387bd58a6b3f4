"""The studio's event stream on a real collector process: live, and no obstacle to stopping."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from collector_process import stop_collector
from otlp_builders import logs_request, metric

from runlog import conventions as c


def _listen(endpoint: str, lines: list[str], connected: threading.Event) -> None:
    try:
        with httpx.stream("GET", endpoint + "/api/v1/studio/events", timeout=60) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: hello"):
                    connected.set()
                lines.append(line)
    except httpx.HTTPError:
        pass


def test_a_commit_reaches_an_open_stream(start_collector: Callable[..., Any]) -> None:
    collector = start_collector(["--no-grpc"])
    lines: list[str] = []
    connected = threading.Event()
    threading.Thread(
        target=_listen, args=(collector.endpoint, lines, connected), daemon=True
    ).start()
    assert connected.wait(10)

    body = logs_request(metric("loss", 0.5, step=1), resource={c.RUN_ID: "live", c.EXPERIMENT: "e"})
    httpx.post(
        collector.endpoint + "/v1/logs",
        content=body.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    ).raise_for_status()
    deadline = time.monotonic() + 5
    while not any(line.startswith('data: {"runs"') for line in lines):
        assert time.monotonic() < deadline, lines
        time.sleep(0.02)

    [data] = [line for line in lines if line.startswith('data: {"runs"')]
    change = json.loads(data.removeprefix("data: "))
    assert {"what": ["metrics"], "metrics": ["loss"]} == change["runs"]["live"]
    assert {"live": "e"} == change["experiments_of"]


def test_the_collector_stops_promptly_with_a_stream_open(
    start_collector: Callable[..., Any],
) -> None:
    collector = start_collector(["--no-grpc"])
    connected = threading.Event()
    threading.Thread(target=_listen, args=(collector.endpoint, [], connected), daemon=True).start()
    assert connected.wait(10)

    started = time.monotonic()
    code = stop_collector(collector)

    assert 0 == code, collector.log()
    assert time.monotonic() - started < 5
    assert "runlog collector stopped" in collector.log()
