"""OTLP/gRPC receiver: the logs, trace and metrics export services over one `Ingestor`.

Each call is converted, committed by the writer and only then answered. Refusals map onto
gRPC codes: ``INVALID_ARGUMENT`` (never for partially rejected data: that is a normal
answer with ``partial_success``), ``RESOURCE_EXHAUSTED`` (message too large; grpc itself
enforces ``max_body_bytes``), ``UNAVAILABLE`` (writer full or store failing; clients retry)
and ``UNAUTHENTICATED`` (token missing or wrong in the ``authorization`` metadata).
"""

from __future__ import annotations

import hmac
from concurrent import futures
from typing import Any, NoReturn

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc as logs_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as metrics_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as trace_grpc

from collectors.errors import ApiError
from collectors.ingest import Ingestor, signal_of

_MAX_WORKERS = 16


class _Receiver:
    """The shared body of the three servicers."""

    def __init__(self, ingestor: Ingestor, token: str | None) -> None:
        self._ingestor = ingestor
        self._token = token

    def export(self, kind: str, request: Message, context: grpc.ServicerContext) -> Message:
        self._check_token(context)
        try:
            outcome = self._ingestor.ingest_message(kind, request)
        except ApiError as exc:
            _abort(context, exc)
        return outcome.response(signal_of(kind))

    def _check_token(self, context: grpc.ServicerContext) -> None:
        if not self._token:
            return
        metadata = dict(context.invocation_metadata())
        scheme, _, given = str(metadata.get("authorization", "")).partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), self._token):
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or wrong bearer token in the 'authorization' metadata",
            )


def _abort(context: grpc.ServicerContext, error: ApiError) -> NoReturn:
    context.abort(error.grpc_code, error.message)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


class LogsServicer(logs_grpc.LogsServiceServicer):
    """``opentelemetry.proto.collector.logs.v1.LogsService``."""

    def __init__(self, receiver: _Receiver) -> None:
        self._receiver = receiver

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:
        return self._receiver.export("logs", request, context)


class TraceServicer(trace_grpc.TraceServiceServicer):
    """``opentelemetry.proto.collector.trace.v1.TraceService``."""

    def __init__(self, receiver: _Receiver) -> None:
        self._receiver = receiver

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:
        return self._receiver.export("traces", request, context)


class MetricsServicer(metrics_grpc.MetricsServiceServicer):
    """``opentelemetry.proto.collector.metrics.v1.MetricsService``."""

    def __init__(self, receiver: _Receiver) -> None:
        self._receiver = receiver

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:
        return self._receiver.export("metrics", request, context)


def create_grpc_server(
    ingestor: Ingestor, host: str, port: int, token: str | None, max_message_bytes: int
) -> tuple[grpc.Server, int]:
    """Build (not start) the OTLP/gRPC server bound to *host*:*port*.

    Returns:
        The server and the port actually bound (useful when *port* is 0).

    Raises:
        OSError: the port cannot be bound.
    """
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(_MAX_WORKERS, "runlog-grpc"), options=options)
    receiver = _Receiver(ingestor, token)
    for register, servicer in (
        (logs_grpc.add_LogsServiceServicer_to_server, LogsServicer(receiver)),
        (trace_grpc.add_TraceServiceServicer_to_server, TraceServicer(receiver)),
        (metrics_grpc.add_MetricsServiceServicer_to_server, MetricsServicer(receiver)),
    ):
        register(servicer, server)  # type: ignore[no-untyped-call]  # generated code
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # newer grpcio raises instead of returning 0
        bound = 0
    if bound == 0:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}; is the port in use?")
    return server, bound
