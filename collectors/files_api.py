"""The files endpoint: upload (streamed), download and list a run's files.

Paths are relative to their run and checked by the file store (no ``..``, no absolute
paths, no backslashes, at most 1024 characters); a bad path is a 400.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote, unquote

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from collectors import encoding as enc
from collectors import schemas
from collectors.errors import TOO_LARGE, ApiError, invalid, not_found
from collectors.query_api import check_run_id, json_response, run_not_found
from collectors.store.base import Store
from collectors.store.files import FileStore, FileTooLargeError, FileWriter, check_path
from runlog import conventions as c

_WRITE_SIZE = 1024 * 1024  # bytes gathered before each (thread-pool) write


class FilesApi:
    """Routes under ``/api/v1/runs/{run_id}/files``.

    Args:
        store: the metadata store (`Store.record_file`, `Store.list_files`).
        files: the byte store.
        max_file_bytes: largest upload accepted.
    """

    def __init__(self, store: Store, files: FileStore, max_file_bytes: int) -> None:
        self.store = store
        self.files = files
        self.max_file_bytes = max_file_bytes

    def router(self) -> APIRouter:
        """An `APIRouter` with the files routes."""
        router = APIRouter(prefix=c.API_PREFIX, tags=["files"], responses=schemas.ERROR_RESPONSES)
        base = "/runs/{run_id}/files"
        router.add_api_route(base, self.list_files, response_model=schemas.FileList)
        router.add_api_route(
            base + "/{path:path}",
            self.download,
            response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}}},
        )
        router.add_api_route(
            base + "/{path:path}",
            self.upload,
            methods=["PUT"],
            status_code=201,
            response_model=schemas.File,
            openapi_extra={
                "requestBody": {"content": {"application/octet-stream": {}}, "required": True}
            },
        )
        return router

    def list_files(self, run_id: str) -> Response:
        """Files uploaded to a run."""
        check_run_id(run_id)
        if self.store.get_run(run_id) is None:
            raise run_not_found(run_id)
        return json_response({"files": [enc.file_json(f) for f in self.store.list_files(run_id)]})

    def download(self, run_id: str, path: str) -> Response:
        """The bytes of one file."""
        missing = f"run {run_id!r} has no file {path!r}; see /api/v1/runs/{run_id}/files"
        return file_response(self.files, check_run_id(run_id), path, missing)

    async def upload(self, run_id: str, path: str, request: Request) -> Response:
        """Store the request body as file *path* of the run (created if unknown)."""
        path = self._checked(path)
        # Header values are Latin-1, so clients send the name percent-encoded (docs/api.md).
        experiment = unquote(request.headers.get(c.HEADER_EXPERIMENT, "")) or c.DEFAULT_EXPERIMENT
        problem = c.check_name("experiment name", experiment)
        if problem:
            raise invalid(f"{c.HEADER_EXPERIMENT}: {problem}")
        try:
            writer = self.files.open_writer(check_run_id(run_id), path, self.max_file_bytes)
        except ValueError as exc:  # InvalidPathError: clashes with a folder or a file
            raise invalid(str(exc)) from None
        try:
            size, sha256 = await self._stream(request, writer)
        except BaseException:
            await run_in_threadpool(writer.abort)
            raise
        now = time.time_ns()
        await run_in_threadpool(self.store.record_file, run_id, experiment, path, size, sha256, now)
        info = {"path": path, "size": size, "sha256": sha256, "created_ns": now}
        return Response(enc.dumps(info), status_code=201, media_type="application/json")

    async def _stream(self, request: Request, writer: FileWriter) -> tuple[int, str]:
        pending = bytearray()
        try:
            async for chunk in request.stream():
                pending += chunk
                if len(pending) >= _WRITE_SIZE:
                    await run_in_threadpool(writer.write, bytes(pending))
                    pending.clear()
            if pending:
                await run_in_threadpool(writer.write, bytes(pending))
        except FileTooLargeError:
            limit = self.max_file_bytes
            raise ApiError(TOO_LARGE, f"file exceeds the limit of {limit} bytes") from None
        return await run_in_threadpool(writer.commit)

    @staticmethod
    def _checked(path: str) -> str:
        try:
            return check_path(path)
        except ValueError as exc:  # InvalidPathError
            raise invalid(str(exc)) from None


def file_response(files: FileStore, owner: str, path: str, missing: str) -> StreamingResponse:
    """The bytes of file *path* of *owner* (a run, or a logged model in its file store).

    Raises:
        ApiError: a 400 for a bad path, a 404 (message *missing*) for a missing file.
    """
    try:
        stream = files.open_read(owner, check_path(path))
    except FileNotFoundError:
        raise not_found(missing) from None
    except ValueError as exc:  # InvalidPathError
        raise invalid(str(exc)) from None
    name = path.rsplit("/", 1)[-1]
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    return StreamingResponse(_chunks(stream), media_type=_media_type(name), headers=headers)


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    """Read a file in chunks (Starlette iterates this in its thread pool), then close it."""
    with stream:
        while chunk := stream.read(_WRITE_SIZE):
            yield chunk


def _media_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
