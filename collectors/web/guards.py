"""What every HTTP request passes before it reaches a route: Host, Origin, body size.

`RequestGuard` is an ASGI middleware around the whole app:

- **Host** (DNS rebinding): a collector on loopback answers only requests whose ``Host`` is
  ``localhost``, ``127.0.0.1``, ``[::1]`` or its own ``--host`` (any port). A page on
  ``evil.example`` whose name an attacker re-points at 127.0.0.1 is refused (403). A
  collector listening on another address needs a token anyway and accepts any Host.
- **Origin** (cross-site requests): a ``POST``/``PUT``/``PATCH``/``DELETE`` whose ``Origin``
  is not the collector's own (or whose ``Sec-Fetch-Site`` says cross-site) is refused (403),
  and so is a ``POST`` with a form or ``text/plain`` body, the "simple" requests a browser
  sends cross-site without asking (415). The studio page, served from the collector's own
  origin, calls the API with ``fetch()`` and passes.
- **Body size**: a body over the limit is refused with 413 before it is read (by its
  ``Content-Length``) or as soon as it passes the limit while streaming: file uploads
  (``PUT`` of a run file or an MLflow artifact) by ``--max-file-mb``, MLflow requests by
  `MAX_MLFLOW_BODY_BYTES` (16 MiB; their largest legitimate bodies are a few MiB, and
  parsing JSON costs about eight times its size in memory), everything else by
  ``--max-body-mb``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from collectors.mlflow.api import PREFIXES as MLFLOW_API_PREFIXES
from collectors.settings import MIB, Settings, is_loopback
from collectors.web.errors import FORBIDDEN, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, ApiError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Renders a refusal in the protocol of the request's path (OTLP, MLflow, query API).
Answer = Callable[[Request, ApiError], Response]

#: Largest MLflow request body (or ``--max-body-mb``, if smaller).
MAX_MLFLOW_BODY_BYTES: Final = 16 * MIB
LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: Content types a browser may POST cross-site without a CORS preflight.
SIMPLE_CONTENT_TYPES: Final = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
_UPLOADS: Final = (
    re.compile(r"/api/v1/runs/[^/]+/files/."),
    re.compile(r"/api/2\.0/mlflow-artifacts/artifacts/."),
)


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without port, lowercased (``[::1]`` keeps brackets)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0].rstrip(".")


def is_upload(method: str, path: str) -> bool:
    """Whether a request stores a run file (its body is limited by the file size limit)."""
    return method == "PUT" and any(pattern.match(path) for pattern in _UPLOADS)


def body_limit(settings: Settings, method: str, path: str) -> int:
    """The most bytes the body of a request to *method* *path* may have."""
    if is_upload(method, path):
        return settings.max_file_bytes
    if path.startswith(MLFLOW_API_PREFIXES):
        return min(settings.max_body_bytes, MAX_MLFLOW_BODY_BYTES)
    return settings.max_body_bytes


class RequestGuard:
    """ASGI middleware: refuse foreign hosts, cross-site writes and bodies over the limit.

    Args:
        app: the application to guard.
        settings: the collector's host and limits.
        answer: renders a refusal for the request's protocol.
    """

    def __init__(self, app: ASGIApp, settings: Settings, answer: Answer) -> None:
        self.app = app
        self.answer = answer
        self.settings = settings
        self.any_host = not is_loopback(settings.host)
        self.hosts = LOOPBACK_NAMES | {host_name(settings.host), f"[{settings.host}]"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = body_limit(self.settings, scope["method"], scope["path"])
        try:
            self._check(scope["method"], headers, limit)
        except ApiError as refusal:
            await self.answer(Request(scope), refusal)(scope, receive, send)
            return
        await self.app(scope, _limited(receive, limit), send)

    def _check(self, method: str, headers: Headers, limit: int) -> None:
        self._check_host(headers.get("host"))
        if method not in _SAFE_METHODS:
            _check_origin(method, headers)
            _check_simple_post(method, headers.get("content-type", ""))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large(limit)

    def _check_host(self, host: str | None) -> None:
        if host is not None and not self.any_host and host_name(host) not in self.hosts:
            raise ApiError(
                FORBIDDEN,
                f"unexpected Host {host[:80]!r}: this collector listens on loopback and "
                "answers only localhost, 127.0.0.1 and [::1] (a guard against DNS rebinding)",
            )


def _check_origin(method: str, headers: Headers) -> None:
    origin = headers.get("origin")
    if origin is not None and not _same_origin(origin, headers.get("host", "")):
        raise ApiError(
            FORBIDDEN,
            f"cross-origin {method} from {origin[:80]!r} refused: only pages served by this "
            "collector may change its data",
        )
    site = headers.get("sec-fetch-site", "same-origin")
    if site not in ("same-origin", "none"):
        raise ApiError(FORBIDDEN, f"{method} from a {site[:40]} page refused")


def _check_simple_post(method: str, content_type: str) -> None:
    media = content_type.split(";")[0].strip().lower()
    if method == "POST" and media in SIMPLE_CONTENT_TYPES:
        raise ApiError(
            UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {media!r} refused: send JSON as application/json (OTLP as "
            "application/x-protobuf or application/json)",
        )


def _same_origin(origin: str, host: str) -> bool:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.strip().lower()


def too_large(limit: int) -> ApiError:
    """The 413 for a body over *limit* bytes."""
    return ApiError(
        TOO_LARGE, f"body exceeds the limit of {limit} bytes; send smaller batches or raise it"
    )


def _limited(receive: Receive, limit: int) -> Receive:
    """*receive* that raises the 413 `ApiError` once the body passes *limit* bytes."""
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(limit)
        return message

    return receive_limited
