"""The route tables of the HTTP API, written one way.

Every ``/api/v1`` router (query, files, models, compute, studio) declares its routes with
these helpers, so the same kind of route (bytes to download, a thing created from a body)
is described to OpenAPI the same way wherever it stands. The MLflow and OTLP routers are
not here: they follow other servers' route tables and stay out of the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from collectors.read.schemas import ERROR_RESPONSES
from runlog import conventions as c

#: The media type of bytes with no type of their own (run files, model files).
OCTET_STREAM = "application/octet-stream"


def api_router(tag: str, prefix: str = c.API_PREFIX) -> APIRouter:
    """A router for *prefix* (``/api/v1``), documented under *tag*, whose routes may all
    answer the API's error bodies (400, 401, 404)."""
    return APIRouter(prefix=prefix, tags=[tag], responses=ERROR_RESPONSES)


def add_download(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Any],
    media_type: str = OCTET_STREAM,
    response_class: type[Response] = StreamingResponse,
) -> None:
    """A GET route whose answer is a body of *media_type* (bytes or a stream, not JSON)."""
    router.add_api_route(
        path,
        endpoint,
        response_class=response_class,
        responses={200: {"content": {media_type: {}}}},
    )


def add_create(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Any],
    response_model: type[BaseModel],
    method: str = "POST",
    body_media_type: str | None = None,
) -> None:
    """A route that creates something and answers 201 with *response_model*; its request
    body is raw bytes of *body_media_type* when given (else the endpoint's JSON body)."""
    extra = (
        {"requestBody": {"content": {body_media_type: {}}, "required": True}}
        if body_media_type
        else None
    )
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        status_code=201,
        response_model=response_model,
        openapi_extra=extra,
    )
