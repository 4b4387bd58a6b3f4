"""The collector's HTTP application: OTLP/HTTP, files and query API on one port.

`create_app` wires the routers onto one FastAPI app, adds the bearer-token check and turns
every refusal into the documented error bodies (``{"error": {...}}``, or a
``google.rpc.Status`` on the OTLP paths).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from collectors.compute import ComputeService
from collectors.mlflow import MlflowApi
from collectors.mlflow.api import MLFLOW_PREFIXES
from collectors.mlflow.errors import translate
from collectors.read import schemas
from collectors.read.files_api import FilesApi
from collectors.read.models_api import ModelsApi
from collectors.read.query_api import QueryApi, json_response
from collectors.read.run_files import Uploads
from collectors.receive.ingest import JSON, PROTOBUF, Ingestor
from collectors.receive.otlp_http import OtlpHttpApi, status_body
from collectors.settings import Settings
from collectors.store.files import FileStore, LocalFileStore
from collectors.store.protocols import CollectorStore
from collectors.studio import Studio
from collectors.web.auth import TokenCheck
from collectors.web.errors import (
    INTERNAL,
    INVALID_ARGUMENT,
    NOT_FOUND,
    UNAVAILABLE,
    UNSUPPORTED_MEDIA_TYPE,
    ApiError,
)
from collectors.web.guards import RequestGuard
from collectors.writer import Writer
from runlog.extras import DISTRIBUTION

_OTLP_PREFIX = "/v1/"
OPENAPI_URL = "/openapi.json"
_STATUS_CODES = {
    400: INVALID_ARGUMENT,
    404: NOT_FOUND,
    405: INVALID_ARGUMENT,
    415: UNSUPPORTED_MEDIA_TYPE,
}


def version() -> str:
    """The installed runlog version (``0.1.0`` when running from a source tree)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0.1.0"


def create_app(
    store: CollectorStore,
    files: FileStore,
    writer: Writer,
    settings: Settings,
    model_files: FileStore | None = None,
    compute: ComputeService | None = None,
) -> FastAPI:
    """Build the collector's FastAPI application.

    Args:
        store: the metadata and metric store.
        files: the file byte store of runs.
        writer: the started writer that commits OTLP data.
        settings: limits and the token.
        model_files: the file byte store of MLflow logged models (default: a local
            directory, ``settings.model_files_dir``).
        compute: the compute targets that run submitted scripts (none: no compute routes).

    Returns:
        The application; serve it with uvicorn (see `collectors.server`).
    """
    app = FastAPI(
        title="runlog collector",
        version=version(),
        description="OTLP/HTTP receiver, files endpoint and query API of runlog. "
        "See docs/api.md for value encoding and the filter language.",
        # Served below, behind the token like every other route.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    auth = [Depends(TokenCheck(settings.token))]
    ingestor = Ingestor(writer, settings.max_body_bytes)
    uploads = Uploads(files, writer, settings.max_file_bytes)
    app.state.ingestor, app.state.uploads = ingestor, uploads
    app.include_router(OtlpHttpApi(ingestor).router(), dependencies=auth)
    app.include_router(QueryApi(store).router(), dependencies=auth)
    app.include_router(FilesApi(store, files, uploads).router(), dependencies=auth)
    model_files = model_files or LocalFileStore(settings.model_files_dir)
    models = ModelsApi(store, writer, files, model_files)
    app.include_router(models.router(), dependencies=auth)
    mlflow = MlflowApi(store, files, writer, uploads, model_files)
    app.include_router(mlflow.router(), dependencies=auth)
    if compute is not None:
        from collectors.compute import disabled_targets
        from collectors.compute.api import ComputeApi

        api = ComputeApi(compute, disabled_targets(settings))
        app.include_router(api.router(), dependencies=auth)
    app.add_api_route("/healthz", healthz, response_model=schemas.Health, tags=["health"])
    # What `mlflow server` answers (load balancers and MLflow tooling probe them); no token,
    # as MLflow's auth exempts them too.
    app.add_api_route("/health", mlflow_health, tags=["health"], response_class=Response)
    app.add_api_route("/version", mlflow_version, tags=["health"], response_class=Response)
    _add_docs(app, auth)
    app.state.studio = Studio(store, writer)
    app.state.studio.install(app, auth)
    _add_error_handlers(app)
    app.add_middleware(RequestGuard, settings=settings, answer=error_response)
    return app


def _add_docs(app: FastAPI, auth: list[Any]) -> None:
    """``/openapi.json``, ``/docs`` (Swagger UI) and ``/redoc``, behind the token."""

    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{app.title} - docs")

    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=OPENAPI_URL, title=f"{app.title} - ReDoc")

    for path, endpoint in ((OPENAPI_URL, openapi), ("/docs", docs), ("/redoc", redoc)):
        app.add_api_route(path, endpoint, dependencies=auth, include_in_schema=False)


def healthz() -> dict[str, str]:
    """Liveness: answers without a token."""
    return {"status": "ok", "version": version()}


def mlflow_health() -> Response:
    """``mlflow server``'s ``/health``: ``OK``, 200, without a token."""
    return Response("OK", media_type=_MLFLOW_TEXT)


def mlflow_version() -> Response:
    """``mlflow server``'s ``/version``: the server's version as text, without a token."""
    return Response(version(), media_type=_MLFLOW_TEXT)


# Flask's default for a returned string, which is what `mlflow server` answers with.
_MLFLOW_TEXT = "text/html"


_E = TypeVar("_E", bound=Exception)
_Handler = Callable[[Request, Exception], Awaitable[Response]]


def _add_handler(
    app: FastAPI, kind: type[_E], handler: Callable[[Request, _E], Awaitable[Response]]
) -> None:
    """Register *handler* for *kind*. Starlette types a handler as taking any Exception, but
    passes it only instances of the class it is registered for, as *handler* expects."""
    app.add_exception_handler(kind, cast(_Handler, handler))


def _add_error_handlers(app: FastAPI) -> None:
    _add_handler(app, ApiError, _on_api_error)
    _add_handler(app, RequestValidationError, _on_validation_error)
    _add_handler(app, StarletteHTTPException, _on_http_error)
    for lost in _DATABASE_DOWN:
        app.add_exception_handler(lost, _on_database_down)
    app.add_exception_handler(Exception, _on_unexpected)


def error_response(request: Request, error: ApiError) -> Response:
    """Answer *error* as the path's protocol wants: OTLP Status, MLflow's error JSON or the
    query API's JSON error body."""
    if request.url.path.startswith(MLFLOW_PREFIXES):
        return translate(error).response()
    if request.url.path.startswith(_OTLP_PREFIX):
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        media = JSON if content_type == JSON else PROTOBUF
        body = status_body(error, media)
        return Response(body, error.status, headers=error.headers, media_type=media)
    response = json_response(error.body())
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


async def _on_api_error(request: Request, exc: ApiError) -> Response:
    return error_response(request, exc)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    problems = "; ".join(_describe(e) for e in exc.errors())
    return error_response(request, ApiError(INVALID_ARGUMENT, f"bad request: {problems}"))


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid')}"


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    code = _STATUS_CODES.get(exc.status_code, INTERNAL)
    error = ApiError(code, f"{request.method} {request.url.path}: {exc.detail}")
    response = error_response(request, error)
    response.status_code = exc.status_code
    return response


#: What SQLAlchemy raises when the database is unreachable or dropped the connection.
_DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError)


async def _on_database_down(request: Request, exc: Exception) -> Response:
    # The pool's pre-ping replaces dead connections, so the next request after the
    # database is back succeeds; until then clients retry (and runlog's clients spool).
    message = f"the store's database is unavailable ({type(exc).__name__}); retry later"
    return error_response(request, ApiError(UNAVAILABLE, message))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    message = f"internal error ({type(exc).__name__}: {exc}); see the collector's log"
    return error_response(request, ApiError(INTERNAL, message))
