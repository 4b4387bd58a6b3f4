"""The exporter's HTTP sender: OTLP/HTTP protobuf posts and file uploads.

Uses the standard library's `http.client` with one kept-alive connection: importing an
HTTP library costs a training process ~0.2 s, and the exporter needs only two requests.
"""

from __future__ import annotations

import http.client
import logging
import os
from typing import IO, Protocol
from urllib.parse import quote, urlsplit

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from runlog import _progress
from runlog import conventions as c
from runlog._spool_format import Upload

_log = logging.getLogger("runlog.internal")


class Transport(Protocol):
    """What the exporter sends through (httpx-style: inject one to capture or redirect).

    `Sender` posts to a collector; `runlog.testing` keeps what it is given in memory.
    Both methods raise `SendError` when the data may be sent again later (it is spooled).
    """

    def deliver_logs(self, body: bytes) -> None:
        """Deliver one serialised OTLP ``ExportLogsServiceRequest``."""

    def deliver_file(self, upload: Upload) -> None:
        """Deliver one staged file upload."""


class SendError(Exception):
    """Sending failed in a way that may pass (collector down, busy, token not yet set)."""


class RejectedError(Exception):
    """The collector refused the data itself (4xx); sending it again cannot help."""


_RETRYABLE = {401, 403, 408, 425, 429}
#: Answers that say the endpoint is wrong, not the data: kept (spooled), never dropped.
_MISCONFIGURED = {404, 405}


class Sender:
    """Posts to one collector endpoint; not thread-safe (the exporter thread owns it)."""

    def __init__(self, endpoint: str, token: str | None, timeout: float = 15.0) -> None:
        parts = urlsplit(endpoint)
        self.endpoint = endpoint
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._base = parts.path.rstrip("/")
        self._timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection

    def close(self) -> None:
        """Drop the kept-alive connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | IO[bytes] | _progress.Stream,
        headers: dict[str, str],
    ) -> tuple[int, bytes]:
        """One request; a kept-alive connection the server closed meanwhile is retried once.

        uvicorn drops idle connections after 5 s, so the first request after a pause
        meets a dead socket; that is no outage. Repeating a post is safe: batch ids make
        the collector ignore a request it already kept.
        """
        retry = self._connection is not None  # only a reused connection may be stale
        while True:
            try:
                connection = self._connect()
                connection.request(
                    method, self._base + path, body=body, headers={**self._headers, **headers}
                )
                response = connection.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if not retry:
                    raise SendError(
                        f"cannot reach the collector at {self.endpoint}: {exc}"
                    ) from exc
            retry = False
            if not isinstance(body, bytes):
                body.seek(0)

    def post_logs(self, body: bytes) -> tuple[int, str]:
        """Post one serialised logs request; return (rejected records, collector's message)."""
        status, reply = self._request(
            "POST", c.OTLP_LOGS_PATH, body, {"Content-Type": "application/x-protobuf"}
        )
        _check(status, reply, "logs")
        response = ExportLogsServiceResponse()
        try:
            response.ParseFromString(reply)
        except Exception:  # a 200 with an odd body still means the data was kept
            return 0, ""
        partial = response.partial_success
        return int(partial.rejected_log_records), str(partial.error_message)

    def put_file(
        self, run_id: str, experiment: str, path: str, data: str | os.PathLike[str]
    ) -> None:
        """Upload one file (streamed from disk) into the run's files."""
        url = f"{c.API_PREFIX}/runs/{quote(run_id)}/files/{quote(path)}"
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(os.path.getsize(data)),
            c.HEADER_EXPERIMENT: quote(experiment),
        }
        size = int(headers["Content-Length"])
        with open(data, "rb") as raw, _progress.reading(raw, size, f"runlog: {path}") as stream:
            status, reply = self._request("PUT", url, stream, headers)
        _check(status, reply, f"file {path!r}")

    # --- delivery: one policy for the exporter and `runlog sync` ------------------------------
    def deliver_logs(self, body: bytes) -> None:
        """Post a logs request; what the collector refuses is reported, never retried.

        Raises:
            SendError: The collector could not be reached; the caller keeps the data.
        """
        try:
            rejected, message = self.post_logs(body)
        except RejectedError as exc:
            _log.error("collector refused a batch of run data; dropped, not retried: %s", exc)
            return
        if rejected:
            _log.warning("collector rejected %d record(s): %s", rejected, message)

    def deliver_file(self, upload: Upload) -> None:
        """Upload a spooled file; a refusal is reported, never retried.

        Raises:
            SendError: The collector could not be reached; the file stays spooled.
        """
        try:
            self.put_file(upload.run_id, upload.experiment, upload.path, upload.data)
        except RejectedError as exc:
            _log.error(
                "collector refused file %r of run %s; dropped, not retried: %s",
                upload.path,
                upload.run_id,
                exc,
            )


def _check(status: int, reply: bytes, what: str) -> None:
    if 200 <= status < 300:
        return
    message = reply[:500].decode("utf-8", "replace")
    if status >= 500 or status in _RETRYABLE:
        raise SendError(f"collector answered {status} for {what}: {message}")
    if status in _MISCONFIGURED:
        raise SendError(
            f"the endpoint answered {status} for {what}: is it a runlog collector's base URL "
            f"(e.g. {c.DEFAULT_ENDPOINT})? The data stays in the spool: {message}"
        )
    raise RejectedError(f"collector refused {what} ({status}): {message}")
