"""Run files over HTTP: storing uploads (one way for every receiver) and serving them safely.

The files endpoint, the MLflow artifact proxy and the spool replay all store a file the same
way (`Uploads`): the bytes are streamed into the file store (an atomic write: a temporary
file renamed into place), then a `RecordFile` operation (path, size, SHA-256) is committed by
the single writer, like every other write. A client that goes away mid-upload costs one log
line and leaves nothing behind.

Files are served (`file_response`) as attachments with ``X-Content-Type-Options: nosniff``
and ``Content-Security-Policy: sandbox``: an uploaded ``.html`` or ``.svg`` never runs as a
page of the collector's origin.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future
from typing import BinaryIO
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import StreamingResponse

from collectors.ops import Applied, RecordFile, RecordModelFile
from collectors.receive.ingest import unavailable
from collectors.store.files import FileStore, FileTooLargeError, FileWriter, check_path
from collectors.web.errors import TOO_LARGE, UNAVAILABLE, ApiError, invalid, not_found
from collectors.writer import Writer, WriterError

logger = logging.getLogger(__name__)

_WRITE_SIZE = 1024 * 1024  # bytes gathered before each (thread-pool) write
#: Headers of every served user file: a download, never sniffed, never a live page.
SAFE_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
}


class Uploads:
    """Stores run files and records them through the writer.

    Args:
        files: the byte store.
        writer: the started writer that commits the records.
        max_file_bytes: the largest file accepted.
    """

    def __init__(self, files: FileStore, writer: Writer, max_file_bytes: int) -> None:
        self.files = files
        self.writer = writer
        self.max_file_bytes = max_file_bytes

    async def receive(
        self, request: Request, run_id: str, path: str, experiment: str
    ) -> RecordFile:
        """Store the request body as file *path* of the run (created if unknown).

        Raises:
            ApiError: a bad path (400), a file over the limit (413), a client that went away
                (400, logged once), or a record the store could not commit (503).
        """
        size, sha256 = await self._receive(request, self.files, run_id, path, "run")
        record = RecordFile(run_id, experiment, path, size, sha256, time.time_ns())
        await self._commit(record)
        return record

    async def receive_model_file(
        self, request: Request, model_files: FileStore, model_id: str, path: str
    ) -> RecordModelFile:
        """Store the request body as file *path* of a logged model (in *model_files*).

        Raises:
            ApiError: as `receive`.
        """
        size, sha256 = await self._receive(request, model_files, model_id, path, "model")
        record = RecordModelFile(model_id, path, size, sha256, time.time_ns())
        await self._commit(record)
        return record

    async def _receive(
        self, request: Request, files: FileStore, owner: str, path: str, kind: str
    ) -> tuple[int, str]:
        writer = await run_in_threadpool(self._open, files, owner, path)
        return await self._stream(request, writer, f"{path!r} to {kind} {owner!r}")

    async def _commit(self, record: RecordFile | RecordModelFile) -> None:
        future = self._submit(record)
        try:
            applied = await asyncio.wrap_future(future)
        except Exception as exc:
            raise unavailable(exc) from exc
        _check(record, applied)

    async def _stream(self, request: Request, writer: FileWriter, what: str) -> tuple[int, str]:
        """Write the request body and commit it; (size, SHA-256)."""
        received = 0
        try:
            async for chunk in _gathered(request.stream()):
                received += len(chunk)
                await run_in_threadpool(writer.write, chunk)
            return await run_in_threadpool(writer.commit)
        except ClientDisconnect:
            await run_in_threadpool(writer.abort)
            logger.warning(
                "upload of %s stopped: the client went away after %d bytes; nothing was kept",
                what,
                received,
            )
            raise invalid("the client disconnected before the upload ended") from None
        except FileTooLargeError:
            await run_in_threadpool(writer.abort)
            raise self._too_large() from None
        except BaseException:
            await run_in_threadpool(writer.abort)
            raise

    def copy(self, source: BinaryIO, run_id: str, path: str, experiment: str) -> RecordFile:
        """Store the bytes of *source* as file *path* of the run; block until recorded.

        Raises:
            ApiError: as `receive`.
        """
        writer = self._open(self.files, run_id, path)
        try:
            for chunk in iter(lambda: source.read(_WRITE_SIZE), b""):
                writer.write(chunk)
            size, sha256 = writer.commit()
        except FileTooLargeError:
            writer.abort()
            raise self._too_large() from None
        except BaseException:
            writer.abort()
            raise
        record = RecordFile(run_id, experiment, path, size, sha256, time.time_ns())
        _check(record, _result(self._submit(record)))
        return record

    def _open(self, files: FileStore, owner: str, path: str) -> FileWriter:
        try:
            return files.open_writer(owner, check_path(path), self.max_file_bytes)
        except ValueError as exc:  # InvalidPathError: bad path, or clashes with a folder
            raise invalid(str(exc)) from None

    def _submit(self, record: RecordFile | RecordModelFile) -> Future[Applied]:
        try:
            return self.writer.submit([record])
        except WriterError as exc:
            raise ApiError(UNAVAILABLE, str(exc)) from None

    def _too_large(self) -> ApiError:
        return ApiError(TOO_LARGE, f"file exceeds the limit of {self.max_file_bytes} bytes")


def _result(future: Future[Applied]) -> Applied:
    try:
        return future.result()
    except Exception as exc:
        raise unavailable(exc) from exc


def _check(record: RecordFile | RecordModelFile, applied: Applied) -> None:
    if applied.errors:
        raise invalid(f"file {record.path!r} was stored but not recorded: {applied.errors[0]}")


async def _gathered(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The request body in pieces of about `_WRITE_SIZE` bytes (fewer thread hops)."""
    pending = bytearray()
    async for chunk in stream:
        pending += chunk
        if len(pending) >= _WRITE_SIZE:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


def file_response(stream: BinaryIO, path: str) -> StreamingResponse:
    """Serve an opened run file: streamed, as an attachment, sandboxed, never sniffed."""
    name = path.rsplit("/", 1)[-1]
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        **SAFE_FILE_HEADERS,
    }
    return StreamingResponse(_chunks(stream), media_type=media_type(name), headers=headers)


def serve_stored(files: FileStore, owner: str, path: str, missing: str) -> StreamingResponse:
    """Serve file *path* of *owner* (a run, or a logged model in its own file store).

    Raises:
        ApiError: a 400 for a bad path, a 404 (message *missing*) for a missing file.
    """
    try:
        stream = files.open_read(owner, check_path(path))
    except FileNotFoundError:
        raise not_found(missing) from None
    except ValueError as exc:  # InvalidPathError
        raise invalid(str(exc)) from None
    return file_response(stream, path)


def media_type(name: str) -> str:
    """The media type a file name suggests (``application/octet-stream`` if none)."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    """Read a stored file in pieces (Starlette iterates this in its thread pool), then close."""
    with stream:
        while chunk := stream.read(_WRITE_SIZE):
            yield chunk
