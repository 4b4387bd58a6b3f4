"""MLflow's error JSON and status codes, and the route class that answers with them.

MLflow clients read ``{"error_code": ..., "message": ...}`` and build their exception
message from it, so every refusal under the MLflow paths uses that shape — malformed JSON,
wrong types and unexpected failures included.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from collectors.read import encoding as enc
from collectors.web.errors import ApiError

logger = logging.getLogger(__name__)

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
INVALID_STATE = "INVALID_STATE"
BAD_REQUEST = "BAD_REQUEST"
MALFORMED_REQUEST = "MALFORMED_REQUEST"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
INTERNAL_ERROR = "INTERNAL_ERROR"
UNAUTHENTICATED = "UNAUTHENTICATED"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"

#: HTTP status per error code, as MLflow's server answers them; except INVALID_STATE,
#: a 500 in MLflow (which its client retries), here a 400: bad input is never a 5xx.
STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    RESOURCE_ALREADY_EXISTS: 400,
    INVALID_STATE: 400,
    BAD_REQUEST: 400,
    MALFORMED_REQUEST: 400,
    ENDPOINT_NOT_FOUND: 404,
    INTERNAL_ERROR: 500,
    UNAUTHENTICATED: 401,
    TEMPORARILY_UNAVAILABLE: 503,
}
#: MLflow 3's error classification (``error_class``, ``sqlstate``) of each code, as its
#: server adds them to error JSON (mlflow.error_classification, client-side tables).
CLASSIFICATION = {
    INVALID_PARAMETER_VALUE: ("INVALID_PARAMETER_VALUE", "KAM00"),
    RESOURCE_DOES_NOT_EXIST: ("RESOURCE_NOT_FOUND", "KAM00"),
    RESOURCE_ALREADY_EXISTS: ("RESOURCE_ALREADY_EXISTS", "KAM00"),
    INVALID_STATE: ("CLIENT_INTERNAL_ERROR", "XXM00"),
    BAD_REQUEST: ("INVALID_PARAMETER_VALUE", "KAM00"),
    ENDPOINT_NOT_FOUND: ("RESOURCE_NOT_FOUND", "KAM00"),
    INTERNAL_ERROR: ("CLIENT_INTERNAL_ERROR", "XXM00"),
    TEMPORARILY_UNAVAILABLE: ("CLIENT_INTERNAL_ERROR", "XXM00"),
}
_FROM_API_ERROR = {
    "INVALID_ARGUMENT": INVALID_PARAMETER_VALUE,
    "NOT_FOUND": RESOURCE_DOES_NOT_EXIST,
    "UNAUTHENTICATED": UNAUTHENTICATED,
    "TOO_LARGE": INVALID_PARAMETER_VALUE,
    "FORBIDDEN": BAD_REQUEST,
    "CONFLICT": INVALID_STATE,
    "UNAVAILABLE": TEMPORARILY_UNAVAILABLE,
}


class MlflowError(Exception):
    """A refusal answered as MLflow's error JSON.

    Args:
        code: an MLflow error code (``INVALID_PARAMETER_VALUE``, …).
        message: what was wrong and what to do.
        status: the HTTP status, when not the one MLflow uses for *code* (a 413 for a body
            over the limit: MLflow has no error code of its own for it).
    """

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self._status = status

    @property
    def status(self) -> int:
        """The HTTP status MLflow uses for this code (unless given)."""
        return self._status or STATUS.get(self.code, 500)

    def response(self) -> Response:
        """The JSON error response."""
        payload = {"error_code": self.code, "message": self.message}
        if self.code in CLASSIFICATION:
            error_class, sqlstate = CLASSIFICATION[self.code]
            payload |= {"sqlstate": sqlstate, "error_class": error_class}
        body = enc.dumps(payload)
        headers = {"Retry-After": "1"} if self.code == TEMPORARILY_UNAVAILABLE else None
        return Response(body, self.status, headers=headers, media_type="application/json")


def invalid(message: str) -> MlflowError:
    """A 400 ``INVALID_PARAMETER_VALUE``."""
    return MlflowError(INVALID_PARAMETER_VALUE, message)


_DOCS = " See the API docs for more information about request parameters."
_MAX_SHOWN = 1000


def required(path: str) -> MlflowError:
    """MLflow's 400 for a required parameter that is missing or empty."""
    return invalid(f"Missing value for required parameter '{path}'.{_DOCS}")


def request_check(message: str) -> MlflowError:
    """A 400 from a check of the request's shape (mlflow server adds its docs hint)."""
    return invalid(message + _DOCS)


def invalid_value(path: str, value: Any, problem: str) -> MlflowError:
    """MLflow's 400 ``Invalid value <json> for parameter '<path>' supplied: <problem>``."""
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if len(shown) > _MAX_SHOWN:  # never echo a huge value back whole
        shown = shown[:_MAX_SHOWN] + "..."
    return invalid(f"Invalid value {shown} for parameter '{path}' supplied: {problem}")


def wrong_type(path: str, value: Any) -> MlflowError:
    """MLflow's 400 for a parameter of the wrong JSON type (its wording, hint included)."""
    hint = f" Hint: Value was of type '{type(value).__name__}'.{_DOCS}"
    return invalid_value(path, value, hint)


def missing(message: str) -> MlflowError:
    """A 404 ``RESOURCE_DOES_NOT_EXIST``."""
    return MlflowError(RESOURCE_DOES_NOT_EXIST, message)


def from_store_error(message: str) -> MlflowError:
    """The MLflow error for an operation the store refused (`Applied.errors`)."""
    code = RESOURCE_ALREADY_EXISTS if "already exists" in message else INVALID_PARAMETER_VALUE
    return MlflowError(code, message)


def translate(exc: Exception) -> MlflowError:
    """Any exception raised while handling an MLflow request, as an `MlflowError`."""
    if isinstance(exc, MlflowError):
        return exc
    if isinstance(exc, ApiError):
        return MlflowError(_FROM_API_ERROR.get(exc.code, INTERNAL_ERROR), exc.message, exc.status)
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return invalid(f"bad request: {problems}")
    if isinstance(exc, HTTPException):
        code = ENDPOINT_NOT_FOUND if exc.status_code in (404, 405) else BAD_REQUEST
        return MlflowError(code, str(exc.detail))
    logger.exception("MLflow request failed")
    return MlflowError(INTERNAL_ERROR, f"internal error ({type(exc).__name__}: {exc})")


class MlflowRoute(APIRoute):
    """An `APIRoute` whose every failure becomes MLflow's error JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every failure answers MLflow's JSON, never a 500 page
                return translate(exc).response()

        return handle
