"""OTLP/gRPC receiver: the logs, trace and metrics export services over one `Ingestor`.

Each call is converted, committed by the writer and only then answered. Refusals map onto
gRPC codes: ``INVALID_ARGUMENT`` (never for partially rejected data: that is a normal
answer with ``partial_success``), ``RESOURCE_EXHAUSTED`` (message too large; grpc itself
enforces ``max_body_bytes``), ``UNAVAILABLE`` (writer full or store failing; clients retry)
and ``UNAUTHENTICATED`` (token missing or wrong in the ``authorization`` metadata).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import Any, NoReturn

import grpc
from google.protobuf.message import Message

from collectors.receive.ingest import Ingestor, signal_of
from collectors.web.auth import token_matches
from collectors.web.errors import ApiError

_MAX_WORKERS = 16

#: Every service the server offers: (full service name, signal). Each has one method,
#: ``Export``, taking the signal's ``Export*ServiceRequest``.
SERVICES: tuple[tuple[str, str], ...] = (
    ("opentelemetry.proto.collector.logs.v1.LogsService", "logs"),
    ("opentelemetry.proto.collector.trace.v1.TraceService", "traces"),
    ("opentelemetry.proto.collector.metrics.v1.MetricsService", "metrics"),
)


class _Receiver:
    """The ``Export`` method of every service.

    Requests arrive as bytes and are parsed here rather than by grpc, so that bytes that
    are no request answer ``INVALID_ARGUMENT`` (grpc's own parsing answers ``INTERNAL``),
    and the batch digest is taken of the bytes as sent.
    """

    def __init__(self, ingestor: Ingestor, token: str | None) -> None:
        self._ingestor = ingestor
        self._token = token

    def handler(self, kind: str) -> grpc.RpcMethodHandler:
        """The method handler of *kind*'s ``Export``."""

        def export(body: bytes, context: grpc.ServicerContext) -> Message:
            return self.export(kind, body, context)

        serialize: Callable[[Message], bytes] = signal_of(kind).response.SerializeToString
        return grpc.unary_unary_rpc_method_handler(export, response_serializer=serialize)

    def export(self, kind: str, body: bytes, context: grpc.ServicerContext) -> Message:
        self._check_token(context)
        try:
            outcome = self._ingestor.ingest(kind, body)
        except ApiError as exc:
            _abort(context, exc)
        return outcome.response(signal_of(kind))

    def _check_token(self, context: grpc.ServicerContext) -> None:
        if not self._token:
            return
        metadata = dict(context.invocation_metadata())
        if not token_matches(str(metadata.get("authorization", "")), self._token):
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or wrong bearer token in the 'authorization' metadata",
            )


def _abort(context: grpc.ServicerContext, error: ApiError) -> NoReturn:
    context.abort(error.grpc_code, error.message)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


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
    handlers = [
        grpc.method_handlers_generic_handler(service, {"Export": receiver.handler(kind)})
        for service, kind in SERVICES
    ]
    server.add_generic_rpc_handlers(handlers)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # newer grpcio raises instead of returning 0
        bound = 0
    if bound == 0:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}; is the port in use?")
    return server, bound
