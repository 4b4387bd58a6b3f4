"""OTLP/HTTP receiver: ``POST /v1/logs``, ``/v1/traces``, ``/v1/metrics``.

Bodies are protobuf or OTLP/JSON, optionally gzip; the body is read with a size limit (the
decompressed size counts too), decoded and converted in a worker thread, committed by the
writer, and only then answered 200 with the OTLP export response.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from google.rpc import status_pb2
from starlette.concurrency import run_in_threadpool

from collectors.read.schemas import ExportResponse
from collectors.receive.ingest import (
    JSON,
    PROTOBUF,
    Ingestor,
    Outcome,
    encode,
    signal_of,
    unavailable,
)
from collectors.web.errors import UNSUPPORTED_MEDIA_TYPE, ApiError
from collectors.web.guards import too_large
from runlog import conventions as c

_MEDIA_TYPES = {"application/x-protobuf": PROTOBUF, "application/protobuf": PROTOBUF, JSON: JSON}
_ENCODINGS = frozenset({"gzip", "identity", ""})

_OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
            JSON: {"schema": {"type": "object"}},
        },
        "description": "an OTLP Export*ServiceRequest; Content-Encoding gzip is accepted",
    }
}


def content_type_of(request: Request) -> str:
    """The OTLP media type of a request (`PROTOBUF` or `JSON`).

    Raises:
        ApiError: ``UNSUPPORTED_MEDIA_TYPE`` for anything else.
    """
    raw = request.headers.get("content-type", "")
    media = _MEDIA_TYPES.get(raw.split(";")[0].strip().lower())
    if media is None:
        raise ApiError(
            UNSUPPORTED_MEDIA_TYPE,
            f"unsupported Content-Type {raw!r}; send application/x-protobuf or application/json",
        )
    return media


def content_encoding_of(request: Request) -> str | None:
    """``"gzip"`` or None; raises `ApiError` 415 for other encodings."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in _ENCODINGS:
        raise ApiError(
            UNSUPPORTED_MEDIA_TYPE,
            f"unsupported Content-Encoding {encoding!r}; send gzip or no encoding",
        )
    return "gzip" if encoding == "gzip" else None


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, stopping with 413 as soon as it passes *limit* bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)


def status_body(error: ApiError, content_type: str) -> bytes:
    """A ``google.rpc.Status`` for an OTLP error answer."""
    status = status_pb2.Status(code=error.grpc_code.value[0], message=error.message)
    return encode(status, content_type)


class OtlpHttpApi:
    """The three OTLP/HTTP export endpoints over one `Ingestor`."""

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor

    def router(self) -> APIRouter:
        """An `APIRouter` with the export endpoints."""
        router = APIRouter(tags=["OTLP"])
        for kind, path in (
            ("logs", c.OTLP_LOGS_PATH),
            ("traces", c.OTLP_TRACES_PATH),
            ("metrics", c.OTLP_METRICS_PATH),
        ):
            router.add_api_route(
                path,
                self._endpoint(kind),
                methods=["POST"],
                summary=f"Export OTLP {kind}",
                response_model=ExportResponse,
                openapi_extra=_OPENAPI_BODY,
                name=f"otlp_{kind}",
            )
        return router

    def _endpoint(self, kind: str) -> Any:
        async def export(request: Request) -> Response:
            return await self.export(kind, request)

        export.__doc__ = f"Receive an OTLP {kind} export; answered after it is committed."
        return export

    async def export(self, kind: str, request: Request) -> Response:
        """Handle one export request end to end."""
        content_type = content_type_of(request)
        encoding = content_encoding_of(request)
        body = await read_body(request, self.ingestor.max_body_bytes)
        converted = await run_in_threadpool(
            self.ingestor.prepare, kind, body, content_type, encoding
        )
        future = self.ingestor.submit(converted)
        try:
            applied = await asyncio.wrap_future(future)
        except Exception as exc:
            raise unavailable(exc) from exc
        outcome = Outcome.of(converted, applied)
        payload = encode(outcome.response(signal_of(kind)), content_type)
        return Response(payload, media_type=content_type)
