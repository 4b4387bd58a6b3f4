"""The studio's page and its static files (HTML, CSS, ES modules), served from the package.

The page holds no data, so it is served without the token; everything it shows comes from
the API, which asks for it. The page's Content-Security-Policy allows only this origin's
scripts, styles and connections: user strings reach the DOM as text, never as markup, and
user files are fetched as data (images as blobs), never framed or rendered as HTML or SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, FastAPI, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR: Final = Path(__file__).with_name("static")
STATIC_PATH: Final = "/studio/static"
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def page_router() -> APIRouter:
    """The route of the studio page, ``/`` (views are chosen by the URL's ``#`` part)."""
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/", index)
    router.add_api_route("/studio", index)
    return router


def index() -> Response:
    """The studio's single page."""
    body = (STATIC_DIR / "index.html").read_bytes()
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


def mount_static(app: FastAPI) -> None:
    """Serve the studio's CSS, scripts and icon under `STATIC_PATH`."""
    app.mount(STATIC_PATH, _WithHeaders(StaticFiles(directory=STATIC_DIR)), name="studio-static")


class _WithHeaders:
    """ASGI wrapper adding the security headers and revalidation to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                extra = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
                headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
