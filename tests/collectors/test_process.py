"""A real collector process driven by the real OpenTelemetry SDK over OTLP/HTTP and gRPC."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from collector_process import REPO_ROOT, Collector, free_port, run_collector, stop_collector
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as GrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import (
    OTLPLogExporter as HttpLogExporter,
)
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from otlp_builders import logs_request, metric

from runlog import conventions as c
from runlog.spool import Spool

pytestmark = pytest.mark.slow


def new_run_id() -> str:
    return "proc-" + uuid.uuid4().hex[:12]


def emit_points(
    exporter: LogRecordExporter, run_id: str, points: list[tuple[int, float]], batch: bool
) -> None:
    """Emit one ``runlog.metric`` log record per point through an SDK LoggerProvider."""
    resource = Resource.create({c.RUN_ID: run_id, "service.name": "otel-sdk-test"})
    provider = LoggerProvider(resource=resource)
    processor = BatchLogRecordProcessor(exporter) if batch else SimpleLogRecordProcessor(exporter)
    provider.add_log_record_processor(processor)
    logger = provider.get_logger("runlog.tests")
    for step, value in points:
        attributes: dict[str, Any] = {
            c.METRIC_NAME: "loss",
            c.METRIC_VALUE: value,
            c.METRIC_STEP: step,
        }
        logger.emit(event_name=c.EVENT_METRIC, attributes=attributes)
    assert provider.force_flush(10_000)
    provider.shutdown()


def assert_kept(collector: Collector, run_id: str, points: list[tuple[int, float]]) -> None:
    with collector.client() as client:
        run = client.get(f"/api/v1/runs/{run_id}").json()
        vector = client.get(f"/api/v1/runs/{run_id}/metric", params={"name": "loss"}).json()
    assert ("otel-sdk-test", "Running") == (run["experiment"], run["status"])
    assert [s for s, _ in points] == vector["steps"]
    assert [v for _, v in points] == vector["values"]


POINTS = [(step, 1.0 / (step + 1)) for step in range(20)]


@pytest.mark.parametrize("batch", [False, True], ids=["simple", "batch"])
def test_otel_sdk_over_http(collector: Collector, batch: bool) -> None:
    run_id = new_run_id()
    exporter = HttpLogExporter(endpoint=collector.endpoint + c.OTLP_LOGS_PATH)

    emit_points(exporter, run_id, POINTS, batch)

    assert_kept(collector, run_id, POINTS)


@pytest.mark.parametrize("batch", [False, True], ids=["simple", "batch"])
def test_otel_sdk_over_grpc(collector: Collector, batch: bool) -> None:
    run_id = new_run_id()
    exporter = GrpcLogExporter(endpoint=collector.grpc_endpoint, insecure=True)

    emit_points(exporter, run_id, POINTS, batch)

    assert_kept(collector, run_id, POINTS)


def test_keeps_serving_after_malformed_input(collector: Collector) -> None:
    protobuf = {"Content-Type": "application/x-protobuf"}
    bomb = gzip.compress(b"\x00" * (80 * 1024 * 1024))
    with collector.client() as client:
        url = c.OTLP_LOGS_PATH
        assert 400 == client.post(url, content=b"\xff" * 64, headers=protobuf).status_code
        gzip_headers = {**protobuf, "Content-Encoding": "gzip"}
        assert 413 == client.post(url, content=bomb, headers=gzip_headers).status_code
        assert (
            400
            == client.post(
                url, content=b"{]", headers={"Content-Type": "application/json"}
            ).status_code
        )
        assert 200 == client.get("/healthz").status_code

    run_id = new_run_id()
    emit_points(HttpLogExporter(endpoint=collector.endpoint + url), run_id, POINTS[:3], False)
    assert_kept(collector, run_id, POINTS[:3])


def test_token_guards_http_and_grpc(start_collector: Callable[..., Collector]) -> None:
    guarded = start_collector(token="s3cret")
    assert 401 == httpx.get(guarded.endpoint + "/api/v1/runs").status_code

    run_id = new_run_id()
    exporter = GrpcLogExporter(
        endpoint=guarded.grpc_endpoint, insecure=True, headers={"authorization": "Bearer s3cret"}
    )
    emit_points(exporter, run_id, POINTS[:2], False)

    assert_kept(guarded, run_id, POINTS[:2])

    with grpc.insecure_channel(guarded.grpc_address) as channel:
        stub = LogsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Export(ExportLogsServiceRequest(), metadata=[("authorization", "Bearer no")])
    assert grpc.StatusCode.UNAUTHENTICATED == refused.value.code()


def test_replays_only_the_spool_entries_meant_for_it_at_start(tmp_path: Path) -> None:
    port, other = free_port(), free_port()
    mine, theirs = new_run_id(), new_run_id()
    directory = tmp_path / "spool"
    for run_id, endpoint in (
        (mine, f"http://localhost:{port}"),
        (theirs, f"http://127.0.0.1:{other}"),
    ):
        request = logs_request(metric("loss", 0.5, step=1), resource={c.RUN_ID: run_id})
        Spool(directory, destination=endpoint).write_logs(request.SerializeToString())

    args = ["--replay-spool", "--spool-dir", str(directory)]
    with (
        run_collector(tmp_path / "data", args, port=port) as collector,
        collector.client() as client,
    ):
        deadline = time.monotonic() + 20
        while client.get(f"/api/v1/runs/{mine}").status_code == 404:
            assert time.monotonic() < deadline, collector.log()
            time.sleep(0.05)
        vector = client.get(f"/api/v1/runs/{mine}/metric", params={"name": "loss"}).json()
        assert 404 == client.get(f"/api/v1/runs/{theirs}").status_code

    assert ([1], [0.5]) == (vector["steps"], vector["values"])
    left = Spool(directory, check=False).destinations()
    assert {f"http://127.0.0.1:{other}": 1} == left


def test_sigterm_stops_cleanly_and_data_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run_id = new_run_id()
    with run_collector(data_dir) as first:
        exporter = HttpLogExporter(endpoint=first.endpoint + c.OTLP_LOGS_PATH)
        emit_points(exporter, run_id, POINTS, False)

        assert 0 == stop_collector(first)
        assert "runlog collector stopped" in first.log()

    with run_collector(data_dir) as second:
        assert_kept(second, run_id, POINTS)


def test_refuses_a_public_host_without_a_token(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop(c.ENV_TOKEN, None)
    command = [sys.executable, "-m", "collectors", "--data-dir", str(tmp_path)]
    command += ["--host", "0.0.0.0", "--port", str(free_port())]

    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)

    assert 2 == result.returncode
    assert "without a token" in result.stderr


def test_accepted_connections_have_nagle_off() -> None:
    """asyncio sets TCP_NODELAY only for IPPROTO_TCP sockets; without it every request after
    the first on a kept-alive connection waits ~40 ms for the client's delayed ACK."""
    import asyncio
    import socket

    from collectors.server import bind_http

    async def check() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=bind_http("127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()

    assert 0 != asyncio.run(check())


def test_a_client_that_goes_away_mid_upload_costs_one_log_line(
    start_collector: Callable[..., Collector],
) -> None:
    collector = start_collector()
    port = int(collector.endpoint.rsplit(":", 1)[1])
    head = (
        "PUT /api/v1/runs/gone1/files/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Length: 50000000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head.encode() + b"x" * 3_000_000)
    deadline = time.monotonic() + 30
    while "went away" not in collector.log() and time.monotonic() < deadline:
        time.sleep(0.05)

    log = collector.log()
    kept = [p for p in (collector.data_dir / "files").rglob("*") if p.is_file()]
    with collector.client() as client:
        listed = client.get("/api/v1/runs/gone1/files")

    assert 1 == log.count("went away"), log
    assert "Traceback" not in log
    assert [] == kept
    assert 404 == listed.status_code  # nothing was recorded, so not even the run exists


@pytest.mark.parametrize("token", [" ", "s3cret "])
def test_refuses_a_token_of_whitespace(tmp_path: Path, token: str) -> None:
    command = [sys.executable, "-m", "collectors", "--data-dir", str(tmp_path)]
    command += ["--host", "0.0.0.0", "--port", str(free_port()), "--no-grpc", "--token", token]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)

    assert 2 == result.returncode
    assert "whitespace" in result.stderr
