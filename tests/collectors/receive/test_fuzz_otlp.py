"""Fuzzing the OTLP receivers of a real collector: no 5xx, no hang, bounded memory.

Hypothesis sends hostile requests (see `otlp_strategies`) over OTLP/HTTP (protobuf, JSON,
gzip) and OTLP/gRPC to one collector process. Every answer must be 2xx or 4xx (gRPC: never
INTERNAL, UNKNOWN, UNAVAILABLE or DATA_LOSS), every request must be answered within its
timeout, and the process must not grow without bound. Examples are bounded so CI stays fast.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import psutil
import pytest
from collector_process import Collector, run_collector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from otlp_strategies import bodies, json_bodies

from collectors.receive.grpc_server import SERVICES

pytestmark = pytest.mark.slow

PATHS = {"logs": "/v1/logs", "traces": "/v1/traces", "metrics": "/v1/metrics"}
KINDS = st.sampled_from(sorted(PATHS))
SERVER_ERRORS = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS,
}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_state: dict[str, int] = {}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    with run_collector(data_dir, ["--max-body-mb", "4"]) as collector:
        _state["rss_before"] = psutil.Process(collector.process.pid).memory_info().rss
        yield collector


@pytest.fixture(scope="module")
def http(target: Collector) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.endpoint, timeout=30) as client:
        yield client


def post(http: httpx.Client, kind: str, body: bytes, headers: dict[str, str]) -> None:
    response = http.post(PATHS[kind], content=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.content[:300], body)


@FUZZ
@given(data=st.data())
def test_otlp_http_protobuf(http: httpx.Client, data: st.DataObject) -> None:
    kind = data.draw(KINDS)
    post(http, kind, data.draw(bodies(kind)), {"Content-Type": "application/x-protobuf"})


@FUZZ
@given(data=st.data())
def test_otlp_http_json(http: httpx.Client, data: st.DataObject) -> None:
    kind = data.draw(KINDS)
    post(http, kind, data.draw(json_bodies(kind)), {"Content-Type": "application/json"})


@FUZZ
@given(data=st.data())
def test_otlp_http_gzip(http: httpx.Client, data: st.DataObject) -> None:
    kind = data.draw(KINDS)
    media = data.draw(st.sampled_from(["application/x-protobuf", "application/json"]))
    raw = data.draw(bodies(kind) if media == "application/x-protobuf" else json_bodies(kind))
    members = data.draw(st.integers(1, 3))
    body = b"".join(gzip.compress(raw) for _ in range(members))
    body = body[: data.draw(st.integers(0, len(body)))] if data.draw(st.booleans()) else body
    post(http, kind, body, {"Content-Type": media, "Content-Encoding": "gzip"})


@FUZZ
@given(data=st.data())
def test_otlp_grpc(target: Collector, data: st.DataObject) -> None:
    service, kind = data.draw(st.sampled_from(SERVICES))
    body = data.draw(bodies(kind))
    with grpc.insecure_channel(target.grpc_address) as channel:
        export = channel.unary_unary(f"/{service}/Export")  # raw bytes in, raw bytes out
        try:
            export(body, timeout=30)
        except grpc.RpcError as exc:
            assert exc.code() not in SERVER_ERRORS, (exc.code(), exc.details(), body)


def test_memory_stayed_bounded_and_the_collector_is_alive(
    target: Collector, http: httpx.Client
) -> None:
    """Runs after the fuzz tests above (file order): the same process, still well."""
    grown = psutil.Process(target.process.pid).memory_info().rss - _state["rss_before"]

    assert 200 == http.get("/healthz").status_code
    assert grown < 200 * 1024 * 1024, f"RSS grew by {grown / 1e6:.0f} MB"
    assert "Traceback" not in target.log(), target.log()[-3000:]
