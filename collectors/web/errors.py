"""Errors the collector answers with, and their HTTP and gRPC forms.

Every refusal inside a request handler raises `ApiError`; one handler per protocol turns
it into ``{"error": {"code", "message"}}`` (query and files API), a ``google.rpc.Status``
(OTLP/HTTP) or a gRPC status (OTLP/gRPC).
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

INVALID_ARGUMENT = "INVALID_ARGUMENT"
UNAUTHENTICATED = "UNAUTHENTICATED"
NOT_FOUND = "NOT_FOUND"
FORBIDDEN = "FORBIDDEN"
CONFLICT = "CONFLICT"
TOO_LARGE = "TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
UNAVAILABLE = "UNAVAILABLE"
INTERNAL = "INTERNAL"

HTTP_STATUS = {
    INVALID_ARGUMENT: 400,
    UNAUTHENTICATED: 401,
    FORBIDDEN: 403,
    NOT_FOUND: 404,
    CONFLICT: 409,
    TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    UNAVAILABLE: 503,
    INTERNAL: 500,
}

GRPC_STATUS = {
    INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    CONFLICT: grpc.StatusCode.ALREADY_EXISTS,
    TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    UNSUPPORTED_MEDIA_TYPE: grpc.StatusCode.INVALID_ARGUMENT,
    UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    INTERNAL: grpc.StatusCode.INTERNAL,
}

#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_SECONDS = 1


class ApiError(Exception):
    """A request the collector refuses, with the code and message the client sees.

    Args:
        code: one of the codes above (``NOT_FOUND``, …).
        message: what was wrong, what was expected, what to do.
        headers: extra response headers (``Retry-After`` for ``UNAVAILABLE`` is automatic).
    """

    def __init__(self, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        if code == UNAVAILABLE:
            self.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return HTTP_STATUS.get(self.code, 500)

    @property
    def grpc_code(self) -> grpc.StatusCode:
        """The gRPC status code."""
        return GRPC_STATUS.get(self.code, grpc.StatusCode.UNKNOWN)

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON error body of the query and files API."""
        return {"error": {"code": self.code, "message": self.message}}


def invalid(message: str) -> ApiError:
    """A 400 ``INVALID_ARGUMENT``."""
    return ApiError(INVALID_ARGUMENT, message)


def not_found(message: str) -> ApiError:
    """A 404 ``NOT_FOUND``."""
    return ApiError(NOT_FOUND, message)
