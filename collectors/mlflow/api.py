"""The MLflow tracking REST API on the collector: ``/api/2.0/mlflow/...`` (and ``/ajax-api``).

Handlers are plain functions ``(Context, Params) -> dict`` listed in each topic module's
``ROUTES``; one async endpoint per route reads the JSON body (or the query string of a GET),
runs the handler in the thread pool and answers JSON. Writes become store operations
committed by the group-commit writer before the answer, like OTLP requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from collectors.mlflow import artifacts, experiments, history, models, registry, runs, versions
from collectors.mlflow._context import Context, Params
from collectors.mlflow.errors import ENDPOINT_NOT_FOUND, MlflowError, MlflowRoute
from collectors.read import encoding as enc
from collectors.read.run_files import Uploads
from collectors.store.files import FileStore
from collectors.store.protocols import MlflowStore
from collectors.writer import Writer

Handler = Callable[[Context, Params], dict[str, Any]]
PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
#: Every path the MLflow API answers (its errors are MLflow's error JSON).
MLFLOW_PREFIXES = (*PREFIXES, "/api/2.0/mlflow-artifacts")
ROUTES: dict[tuple[str, str], Handler] = {
    **experiments.ROUTES,
    **runs.ROUTES,
    **history.ROUTES,
    **models.ROUTES,
    **registry.ROUTES,
    **versions.ROUTES,
    ("GET", "/artifacts/list"): artifacts.list_run,
}


async def request_params(request: Request) -> Params:
    """The request's parameters: query string for GET (repeated keys become lists), else JSON."""
    if request.method == "GET":
        values: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            if key in values:
                old = values[key]
                values[key] = [*old, value] if isinstance(old, list) else [old, value]
            else:
                values[key] = [value] if key.endswith("_ids") else value
    else:
        values = Params.from_body(await request.body()).values
    values.update(request.path_params)
    return Params(values)


class MlflowApi:
    """The MLflow routers.

    Args:
        store: the store (`SQLStore`).
        files: the file byte store of runs.
        writer: the started group-commit writer.
        uploads: stores and records artifact uploads (of runs and logged models).
        model_files: the file byte store of logged models.
    """

    def __init__(
        self,
        store: MlflowStore,
        files: FileStore,
        writer: Writer,
        uploads: Uploads,
        model_files: FileStore,
    ) -> None:
        self.ctx = Context(store, writer, files, uploads, model_files)

    def router(self) -> APIRouter:
        """One `APIRouter` with the tracking API, the artifacts proxy and a 404 catch-all."""
        router = APIRouter(route_class=MlflowRoute, tags=["mlflow"], include_in_schema=False)
        for (method, path), handler in ROUTES.items():
            for prefix in PREFIXES:
                router.add_api_route(prefix + path, self._endpoint(handler), methods=[method])
        self._add_artifact_routes(router)
        for prefix in MLFLOW_PREFIXES:
            router.add_api_route(
                prefix + "/{rest:path}",
                _not_found,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            )
        return router

    def _endpoint(self, handler: Handler) -> Callable[[Request], Any]:
        ctx = self.ctx

        async def endpoint(request: Request) -> Response:
            params = await request_params(request)
            body = await run_in_threadpool(handler, ctx, params)
            return Response(enc.dumps(body), media_type="application/json")

        endpoint.__name__ = handler.__module__.rsplit(".", 1)[-1] + "_" + handler.__name__
        return endpoint

    def _add_artifact_routes(self, router: APIRouter) -> None:
        ctx = self.ctx

        async def upload(path: str, request: Request) -> Response:
            return await artifacts.upload(ctx, path, request)

        def download(path: str) -> Response:
            return artifacts.download(ctx, path)

        def model_file(model_id: str, artifact_file_path: str | None = None) -> Response:
            return models.download_artifact(ctx, model_id, artifact_file_path)

        def run_file(
            run_id: str | None = None, run_uuid: str | None = None, path: str | None = None
        ) -> Response:
            return artifacts.get_artifact(ctx, run_id or run_uuid, path)

        def version_file(name: str = "", version: str = "", path: str | None = None) -> Response:
            return versions.get_artifact(ctx, name, version, path)

        router.add_api_route("/get-artifact", run_file, methods=["GET"])
        router.add_api_route("/model-versions/get-artifact", version_file, methods=["GET"])
        router.add_api_route(
            artifacts.PREFIX, self._endpoint(artifacts.list_proxy), methods=["GET"]
        )
        for prefix in PREFIXES:
            path = prefix + "/logged-models/{model_id}/artifacts/files"
            router.add_api_route(path, model_file, methods=["GET"])
        router.add_api_route(artifacts.PREFIX + "/{path:path}", upload, methods=["PUT"])
        router.add_api_route(artifacts.PREFIX + "/{path:path}", download, methods=["GET"])


async def _not_found(request: Request) -> Response:
    raise MlflowError(
        ENDPOINT_NOT_FOUND,
        f"{request.method} {request.url.path} is not an MLflow endpoint this server implements",
    )
