"""The bearer token: one comparison for HTTP and gRPC, and the FastAPI dependency.

Header values are compared as bytes in constant time, so a header with characters outside
ASCII (which `hmac.compare_digest` refuses as text) is a wrong token, not a crash.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from collectors.web.errors import UNAUTHENTICATED, ApiError

#: The refusal every protocol sends for a missing or wrong token.
REFUSAL = (
    "missing or wrong bearer token; send 'Authorization: Bearer <token>' with the "
    "collector's token (RUNLOG_TOKEN)"
)


def token_matches(authorization: str, token: str) -> bool:
    """Tell whether an ``Authorization`` value (``Bearer <token>``) carries *token*.

    HTTP header values arrive decoded as Latin-1 (ASGI) and gRPC metadata as text; both are
    turned back into their bytes (UTF-8 where Latin-1 cannot hold them) and compared with
    the token's UTF-8 bytes.
    """
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(_as_bytes(given.strip()), token.encode("utf-8"))


def _as_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


class TokenCheck:
    """FastAPI dependency: the request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, request: Request) -> None:
        if self.token and not token_matches(request.headers.get("authorization", ""), self.token):
            raise ApiError(UNAUTHENTICATED, REFUSAL)
