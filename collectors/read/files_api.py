"""The files endpoint: upload (streamed), download and list a run's files.

Paths are relative to their run and checked by the file store (no ``..``, no absolute
paths, no backslashes, at most 1024 characters); a bad path is a 400. Uploads are stored and
recorded by `collectors.read.run_files.Uploads`, downloads served by `run_files.serve_stored`.
"""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter, Request, Response

from collectors.read import encoding as enc
from collectors.read import schemas
from collectors.read.query_api import check_run_id, json_response, run_not_found
from collectors.read.run_files import Uploads, serve_stored
from collectors.store.base import Store
from collectors.store.files import FileStore, check_path
from collectors.web.errors import invalid
from collectors.web.routes import OCTET_STREAM, add_create, add_download, api_router
from runlog import conventions as c


class FilesApi:
    """Routes under ``/api/v1/runs/{run_id}/files``.

    Args:
        store: the metadata store (`Store.list_files`).
        files: the byte store.
        uploads: stores and records uploads.
    """

    def __init__(self, store: Store, files: FileStore, uploads: Uploads) -> None:
        self.store = store
        self.files = files
        self.uploads = uploads

    def router(self) -> APIRouter:
        """An `APIRouter` with the files routes."""
        router = api_router("files")
        base = "/runs/{run_id}/files"
        router.add_api_route(base, self.list_files, response_model=schemas.FileList)
        add_download(router, base + "/{path:path}", self.download)
        add_create(router, base + "/{path:path}", self.upload, schemas.File, "PUT", OCTET_STREAM)
        return router

    def list_files(self, run_id: str) -> Response:
        """Files uploaded to a run."""
        check_run_id(run_id)
        if self.store.get_run(run_id) is None:
            raise run_not_found(run_id)
        return json_response({"files": [enc.file_json(f) for f in self.store.list_files(run_id)]})

    def download(self, run_id: str, path: str) -> Response:
        """The bytes of one file."""
        check_run_id(run_id)
        if self.store.get_run(run_id) is None:  # a missing run, not a missing file of it
            raise run_not_found(run_id)
        missing = f"run {run_id!r} has no file {path!r}; see /api/v1/runs/{run_id}/files"
        return serve_stored(self.files, run_id, path, missing)

    async def upload(self, run_id: str, path: str, request: Request) -> Response:
        """Store the request body as file *path* of the run (created if unknown)."""
        path = self._checked(path)
        # Header values are Latin-1, so clients send the name percent-encoded (docs/api.md).
        experiment = unquote(request.headers.get(c.HEADER_EXPERIMENT, "")) or c.DEFAULT_EXPERIMENT
        problem = c.check_name("experiment name", experiment)
        if problem:
            raise invalid(f"{c.HEADER_EXPERIMENT}: {problem}")
        record = await self.uploads.receive(request, check_run_id(run_id), path, experiment)
        info = {
            "path": record.path,
            "size": record.size,
            "sha256": record.sha256,
            "created_ns": record.time_ns,
        }
        return Response(enc.dumps(info), status_code=201, media_type="application/json")

    @staticmethod
    def _checked(path: str) -> str:
        try:
            return check_path(path)
        except ValueError as exc:  # InvalidPathError
            raise invalid(str(exc)) from None
