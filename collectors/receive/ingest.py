"""From OTLP request bytes to committed operations: decode, convert, write.

`Ingestor` is what every receiver shares: OTLP/HTTP (`collectors.receive.otlp_http`), OTLP/gRPC
(`collectors.receive.grpc_server`, `Ingestor.ingest`) and the spool replay at start
(`ingest_request_bytes`).
"""

from __future__ import annotations

import base64
import re
import time
import zlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_pb
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb

from collectors import convert
from collectors.ops import Applied, Converted
from collectors.read.encoding import parse_json
from collectors.web.errors import CONFLICT, TOO_LARGE, UNAVAILABLE, ApiError, invalid
from collectors.writer import Writer, WriterError, caused_by_input

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_HEX_ID_KEYS = frozenset(
    {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}
)
_HEX_ID = re.compile(r"(?:[0-9a-fA-F]{16}){1,2}")
_MAX_REPORTED_ERRORS = 5
#: Deepest OTLP/JSON nesting accepted: protobuf's own limit for binary messages is 100.
MAX_JSON_DEPTH = 100
#: Most gzip members one body may hold. OTLP exporters send one; each member costs a new
#: inflater and a copy of the rest of the body, so thousands of empty ones cost minutes.
MAX_GZIP_MEMBERS = 64
_GZIP_SLICE = 256 * 1024


@dataclass(frozen=True, slots=True)
class Signal:
    """One OTLP signal: its request and response types and its converter."""

    request: type[Message]
    response: type[Message]
    convert: Callable[[Any, int, bytes | None], Converted]
    rejected_field: str


SIGNALS: dict[str, Signal] = {
    "logs": Signal(
        logs_pb.ExportLogsServiceRequest,
        logs_pb.ExportLogsServiceResponse,
        convert.convert_logs,
        "rejected_log_records",
    ),
    "traces": Signal(
        trace_pb.ExportTraceServiceRequest,
        trace_pb.ExportTraceServiceResponse,
        convert.convert_traces,
        "rejected_spans",
    ),
    "metrics": Signal(
        metrics_pb.ExportMetricsServiceRequest,
        metrics_pb.ExportMetricsServiceResponse,
        convert.convert_metrics,
        "rejected_data_points",
    ),
}


@dataclass(slots=True)
class Outcome:
    """What became of one request: records rejected (by convert or the store) and why."""

    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    duplicate: bool = False

    @classmethod
    def of(cls, converted: Converted, applied: Applied) -> Outcome:
        """Combine the converter's rejections with the store's refusals.

        Raises:
            ApiError: ``CONFLICT`` when the batch id was used before for other content.
        """
        if applied.conflict is not None:
            raise ApiError(CONFLICT, applied.conflict)
        errors = converted.errors + applied.errors
        return cls(converted.rejected + len(applied.errors), errors, applied.duplicate)

    def response(self, signal: Signal) -> Message:
        """The OTLP export response; ``partial_success`` only when something was rejected."""
        response = signal.response()
        if self.rejected:
            partial = response.partial_success
            setattr(partial, signal.rejected_field, self.rejected)
            partial.error_message = self.summary()
        return response

    def summary(self) -> str:
        """The first reasons, joined, saying how many more there were."""
        shown = self.errors[:_MAX_REPORTED_ERRORS]
        more = self.rejected - len(shown)
        return "; ".join(shown) + (f" (and {more} more rejected)" if more > 0 else "")


def signal_of(kind: str) -> Signal:
    """Look up a signal by name (``logs``, ``traces``, ``metrics``)."""
    try:
        return SIGNALS[kind]
    except KeyError:
        raise ValueError(
            f"unknown OTLP signal {kind!r}; expected one of {sorted(SIGNALS)}"
        ) from None


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzip body, refusing output over *limit* bytes (a gzip bomb).

    Input is fed in slices, so what each member leaves over (``unused_data``) is one slice,
    not the rest of the body; at most `MAX_GZIP_MEMBERS` members are read.

    Raises:
        ApiError: ``TOO_LARGE`` past the limit, ``INVALID_ARGUMENT`` for a broken stream.
    """
    out = bytearray()
    view, pos = memoryview(body), 0
    for _ in range(MAX_GZIP_MEMBERS):
        if pos == len(view):
            return bytes(out)
        pos = _gunzip_member(view, pos, out, limit)
    if pos < len(view):
        raise invalid(f"gzip body has more than {MAX_GZIP_MEMBERS} members; send one")
    return bytes(out)


def _gunzip_member(view: memoryview, pos: int, out: bytearray, limit: int) -> int:
    """Inflate the member starting at *pos* into *out*; return where the next one starts."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    while not inflater.eof:
        if pos == len(view):
            raise invalid("gzip body is truncated")
        piece = view[pos : pos + _GZIP_SLICE]
        try:
            out += inflater.decompress(piece, limit + 1 - len(out))
        except zlib.error as exc:
            raise invalid(f"body is not valid gzip: {exc}") from None
        if len(out) > limit:
            raise ApiError(TOO_LARGE, f"decompressed body exceeds the limit of {limit} bytes")
        pos += len(piece) - len(inflater.unused_data)
    return pos


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes trace and span ids in hex; protobuf's JSON parser wants base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _HEX_ID_KEYS and isinstance(value, str) and _HEX_ID.fullmatch(value):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            elif isinstance(value, (dict, list)):
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)
    return node


def decode(signal: Signal, body: bytes, content_type: str) -> Message:
    """Parse an OTLP request body (protobuf or OTLP/JSON).

    Raises:
        ApiError: ``INVALID_ARGUMENT`` when the body does not parse.
    """
    message = signal.request()
    name = signal.request.__name__
    try:
        if content_type == JSON:
            tree = parse_json(body, MAX_JSON_DEPTH)
            if not isinstance(tree, dict):
                raise ValueError(f"expected a JSON object, got {type(tree).__name__}")
            json_format.ParseDict(_hex_ids_to_base64(tree), message, True)
        else:
            message.ParseFromString(body)
    except (DecodeError, json_format.ParseError, ValueError, RecursionError) as exc:
        raise invalid(f"body is not a valid {name} ({content_type}): {exc}") from None
    return message


def encode(message: Message, content_type: str) -> bytes:
    """Serialise an OTLP response (or ``google.rpc.Status``) like the request was."""
    if content_type == JSON:
        return str(json_format.MessageToJson(message, indent=None)).encode()
    return bytes(message.SerializeToString())


class Ingestor:
    """Decodes, converts and commits OTLP requests through one `Writer`.

    Args:
        writer: the started writer that commits operations.
        max_body_bytes: limit of a decompressed body.
        clock: the receive time source (Unix ns); tests may pin it.
    """

    def __init__(
        self,
        writer: Writer,
        max_body_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.writer = writer
        self.max_body_bytes = max_body_bytes
        self._clock = clock

    def prepare(
        self, kind: str, body: bytes, content_type: str = PROTOBUF, encoding: str | None = None
    ) -> Converted:
        """Decompress, decode and convert a body (CPU work; run it off the event loop).

        Raises:
            ApiError: the body is too large or malformed.
        """
        if encoding == "gzip":
            body = gunzip(body, self.max_body_bytes)
        elif len(body) > self.max_body_bytes:
            raise ApiError(TOO_LARGE, f"body exceeds the limit of {self.max_body_bytes} bytes")
        return self.convert(kind, decode(signal_of(kind), body, content_type), body)

    def convert(self, kind: str, message: Message, body: bytes | None = None) -> Converted:
        """Convert a decoded request (received as *body*, if known), stamping the time now."""
        return signal_of(kind).convert(message, self._clock(), body)

    def submit(self, converted: Converted) -> Future[Applied]:
        """Hand the operations to the writer.

        Raises:
            ApiError: ``UNAVAILABLE`` when the writer is full or stopped.
        """
        try:
            return self.writer.submit(converted.ops)
        except WriterError as exc:
            raise ApiError(UNAVAILABLE, str(exc)) from None

    def wait(self, converted: Converted, future: Future[Applied]) -> Outcome:
        """Block until the writer committed (or failed) and say what became of the request.

        Raises:
            ApiError: ``UNAVAILABLE`` when the store could not commit, ``INVALID_ARGUMENT``
                when it refused the data, ``CONFLICT`` for a batch id reused.
        """
        try:
            applied = future.result()
        except Exception as exc:
            raise unavailable(exc) from exc
        return Outcome.of(converted, applied)

    def ingest(self, kind: str, body: bytes, content_type: str = PROTOBUF) -> Outcome:
        """Decode, convert and commit one serialised request; block until committed.

        Raises:
            ApiError: the body is malformed or too large, or the store could not commit.
        """
        converted = self.prepare(kind, body, content_type)
        return self.wait(converted, self.submit(converted))

    def ingest_request_bytes(self, kind: str, body: bytes, content_type: str = PROTOBUF) -> Applied:
        """Ingest one serialised request (e.g. from the client's spool); block until kept.

        Args:
            kind: ``logs``, ``traces`` or ``metrics``.
            body: the serialised ``Export*ServiceRequest``.
            content_type: `PROTOBUF` (default) or `JSON`.

        Returns:
            `Applied` with ``duplicate`` set when the batch id was seen before, and the
            reasons of every rejected record (by the converter or the store) in ``errors``.

        Raises:
            ApiError: the body is malformed or too large, or the store could not commit.
        """
        outcome = self.ingest(kind, body, content_type)
        return Applied(duplicate=outcome.duplicate, errors=outcome.errors)


def unavailable(exc: BaseException) -> ApiError:
    """The answer to a commit that failed: 503 (retry later), or 400 when the store refused
    the data itself (retrying would fail forever)."""
    reason = exc if isinstance(exc, WriterError) else f"{type(exc).__name__}: {exc}"
    if caused_by_input(exc):
        return invalid(f"the store refused this request's data ({reason}); do not retry it")
    return ApiError(UNAVAILABLE, f"the store could not commit ({reason}); retry later")
