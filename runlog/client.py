"""Query the collector: experiments, runs, metric vectors, log lines, spans and files.

::

    from runlog.client import Client

    with Client() as client:                      # RUNLOG_ENDPOINT, or .runlog/config.json
        best = client.search_runs(["diabetes-sweep"], order_by=["metrics.mse ASC"],
                                  max_results=1)[0]
        client.get_metrics(best["run_id"])        # {"alpha": 0.35, "mse": 3295.7, ...}

Every error is one of `runlog.exceptions`: a 400 is `InvalidArgumentError`, 401
`AuthenticationError`, 404 `NotFoundError`, and an unreachable or failing collector
`CollectorUnavailableError`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

from runlog import _config
from runlog import conventions as c
from runlog._api_decode import (
    Series,
    decode_binary,
    decode_run,
    decode_summary,
    decode_vector,
    shape_metrics,
    summary_as_series,
)
from runlog._guard import INSIDE
from runlog.exceptions import (
    AuthenticationError,
    CollectorUnavailableError,
    InvalidArgumentError,
    NotFoundError,
    RunlogError,
)

#: Vectors with more points than this are fetched in the binary format.
BINARY_THRESHOLD = 5000
BINARY_CONTENT_TYPE = c.BINARY_MEDIA_TYPE
_CHUNK = 1 << 20
_START_HINT = "is the collector running? start it with `runlog collector`"

Source = str | os.PathLike[str] | bytes | IO[bytes]


class Client:
    """A synchronous client of the collector's query and files API.

    Args:
        endpoint: The collector's base URL; default from `RUNLOG_ENDPOINT`, then the nearest
            `.runlog/config.json`, then ``http://127.0.0.1:4318``.
        token: Bearer token; default from `RUNLOG_TOKEN` or the config file.
        timeout: Seconds to wait for connecting and for each read.
        transport: An `httpx.BaseTransport` to use instead of the network (for tests and
            in-process collectors).
    """

    #: Runs asked for per request when following page tokens.
    page_size = 1000

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        settings = _config.resolve(endpoint, token)
        self.endpoint = settings.endpoint
        headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
        self._http = httpx.Client(
            base_url=self.endpoint, headers=headers, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"Client(endpoint={self.endpoint!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (httpcore logs it: runlog's own work, as in _send)."""
        token = INSIDE.set(True)
        try:
            self._http.close()
        finally:
            INSIDE.reset(token)

    # --- plumbing ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request and raise the runlog error matching a failed answer.

        Runs marked as runlog's own work, so a `RunlogHandler` does not turn what httpx
        logs about the request into log lines of a run.
        """
        token = INSIDE.set(True)
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        finally:
            INSIDE.reset(token)
        raise_for_status(response, self.endpoint)
        return response

    def _get_json(self, path: str, params: Any = None) -> Any:
        return self._send("GET", path, params=params).json()

    def _unreachable(self, exc: Exception) -> CollectorUnavailableError:
        return CollectorUnavailableError(
            f"cannot reach the collector at {self.endpoint} ({exc or type(exc).__name__}); "
            f"{_START_HINT}, or point RUNLOG_ENDPOINT at it"
        )

    # --- experiments and runs ---------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Return the collector's ``{"status": "ok", "version": ...}``."""
        return dict(self._get_json("/healthz"))

    def list_experiments(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Return every experiment (``experiment_id, name, created_ns, run_count, last_run_ns,
        deleted``); experiments deleted through MLflow only with *include_deleted*."""
        params = [("include_deleted", "true")] if include_deleted else []
        return list(self._get_json(f"{c.API_PREFIX}/experiments", params)["experiments"])

    def get_experiment(self, name: str) -> dict[str, Any]:
        """Return one experiment; raise `NotFoundError` if there is none of that name."""
        return dict(self._get_json(f"{c.API_PREFIX}/experiments/{_seg(name)}"))

    def iter_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        max_results: int | None = None,
        include_deleted: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Yield runs matching *filter*, following page tokens.

        Args:
            experiments: Experiment name or names to search (default: all).
            filter: MLflow-style filter, e.g. ``"metrics.mse < 3000 and params.alpha = '0.5'"``.
            order_by: Keys with ``ASC``/``DESC``, e.g. ``"metrics.mse ASC"``.
            max_results: Stop after this many runs (default: all).
            include_deleted: Also yield runs deleted through MLflow (their ``deleted`` is
                true); a filter on ``attributes.lifecycle_stage`` decides by itself.

        Raises:
            InvalidArgumentError: The filter or order is malformed.
        """
        if max_results is not None and max_results < 1:
            raise InvalidArgumentError(f"max_results must be at least 1, got {max_results}")
        remaining = max_results
        token: str | None = None
        while remaining is None or remaining > 0:
            page = self._runs_page(
                experiments,
                filter,
                order_by,
                min(remaining or self.page_size, self.page_size),
                token,
                include_deleted,
            )
            for run in page["runs"][:remaining]:
                yield decode_run(run)
            remaining = None if remaining is None else remaining - len(page["runs"])
            token = page.get("next_page_token")
            if not token:
                return

    def _runs_page(
        self,
        experiments: str | Sequence[str] | None,
        filter: str | None,
        order_by: str | Sequence[str] | None,
        size: int,
        token: str | None,
        include_deleted: bool = False,
    ) -> dict[str, Any]:
        params: list[tuple[str, str | int]] = [("experiment", e) for e in _many(experiments)]
        params += [("order_by", o) for o in _many(order_by)]
        params.append(("max_results", size))
        if filter:
            params.append(("filter", filter))
        if token:
            params.append(("page_token", token))
        if include_deleted:
            params.append(("include_deleted", "true"))
        return dict(self._get_json(f"{c.API_PREFIX}/runs", params))

    def search_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        max_results: int | None = None,
        include_deleted: bool = False,
    ) -> list[dict[str, Any]]:
        """Return the runs matching *filter* as a list of ``Run`` dicts (see `iter_runs`)."""
        return list(self.iter_runs(experiments, filter, order_by, max_results, include_deleted))

    def get_run(self, run_id: str) -> dict[str, Any]:
        """Return one run with its tags, params, properties and metric summaries (also a
        run deleted through MLflow: its ``deleted`` is true)."""
        return decode_run(self._get_json(_run_path(run_id)))

    def set_tags(
        self, run_id: str, tags: Mapping[str, str], delete: Sequence[str] = ()
    ) -> dict[str, str]:
        """Set *tags* and remove the tags named in *delete*; return the run's tags.

        Raises:
            NotFoundError: The run does not exist.
            InvalidArgumentError: A key or value is refused.
        """
        body = {"set": dict(tags), "delete": list(delete)}
        return dict(self._send("PATCH", f"{_run_path(run_id)}/tags", json=body).json()["tags"])

    def rename_run(self, run_id: str, name: str) -> None:
        """Give the run a new display name (MLflow's ``runs/update``)."""
        self._mlflow("runs/update", {"run_id": run_id, "run_name": name})

    def delete_run(self, run_id: str) -> None:
        """Mark the run deleted, as MLflow does: searches leave it out until restored."""
        self._mlflow("runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        """Undo `delete_run`."""
        self._mlflow("runs/restore", {"run_id": run_id})

    def _mlflow(self, method: str, body: Mapping[str, Any]) -> None:
        self._send("POST", f"/api/2.0/mlflow/{method}", json=dict(body))

    # --- metrics ----------------------------------------------------------------------------

    def list_metrics(self, run_id: str) -> list[dict[str, Any]]:
        """Return the run's metric summaries (name, column, kind, dtype, count, last, min, max)."""
        body = self._get_json(f"{_run_path(run_id)}/metrics")
        return [decode_summary(m) for m in body["metrics"]]

    def get_metric(
        self,
        run_id: str,
        name: str,
        column: str = "",
        max_points: int | None = None,
        binary: bool | None = None,
    ) -> Series:
        """Return one metric column's points.

        Args:
            run_id: The run.
            name: The metric's name.
            column: The column of a row or table metric (``""`` for the others).
            max_points: Let the collector downsample to at most this many points.
            binary: Use the binary format; by default it is used for vectors of more
                than 5000 points.

        Raises:
            NotFoundError: The run or the metric does not exist.
        """
        if binary is None:
            binary = max_points is None and self._count(run_id, name, column) > BINARY_THRESHOLD
        return self._fetch_metric(run_id, name, column, max_points, binary)

    def _count(self, run_id: str, name: str, column: str) -> int:
        for summary in self.list_metrics(run_id):
            if summary["name"] == name and summary.get("column", "") == column:
                return int(summary["count"])
        return 0  # let the vector request report the missing metric

    def _fetch_metric(
        self, run_id: str, name: str, column: str, max_points: int | None, binary: bool
    ) -> Series:
        params: dict[str, str | int] = {"name": name, "column": column}
        if max_points is not None:
            params["max_points"] = max_points
        if binary:
            params["format"] = "binary"
        response = self._send("GET", f"{_run_path(run_id)}/metric", params=params)
        if response.headers.get("content-type", "").startswith(BINARY_CONTENT_TYPE):
            return _binary_series(response, name, column)
        return decode_vector(response.json())

    def get_metrics(self, run_id: str, name: str | None = None) -> dict[str, Any]:
        """Return the run's metrics shaped as Azure ML v1's ``Run.get_metrics()``.

        A scalar logged once gives its value, logged several times a list; a list metric a
        list; row and table metrics ``{column: [values]}``; an image its file path (a list
        of paths if logged several times). With *name*, only that metric.

        Raises:
            NotFoundError: The run, or the metric *name*, does not exist.
        """
        summaries = self.list_metrics(run_id)
        if name is not None:
            summaries = [s for s in summaries if s["name"] == name]
            if not summaries:
                raise NotFoundError(
                    f"run {run_id!r} has no metric {name!r}; list its metrics "
                    f"with `runlog metrics {run_id}`"
                )
        return shape_metrics(self._summary_series(run_id, s) for s in summaries)

    def _summary_series(self, run_id: str, summary: Mapping[str, Any]) -> Series:
        if int(summary["count"]) == 1:
            return summary_as_series(summary)
        return self._fetch_metric(
            run_id,
            str(summary["name"]),
            str(summary["column"]),
            None,
            int(summary["count"]) > BINARY_THRESHOLD,
        )

    # --- log lines and spans ----------------------------------------------------------------

    def get_logs(
        self, run_id: str, after_seq: int = 0, limit: int = 1000, level: str | None = None
    ) -> list[dict[str, Any]]:
        """Return one page of the run's log lines, oldest first.

        Each line is ``{seq, time_ns, level, level_number, logger, message, exception,
        stream}``; ``seq`` numbers the run's lines from 1.

        Args:
            run_id: The run.
            after_seq: Only lines after this seq (the last one already seen).
            limit: At most this many lines (1-10000).
            level: Only lines at this level or above (``DEBUG``, ``INFO``, ``WARN``, …).

        Raises:
            NotFoundError: The run does not exist.
            InvalidArgumentError: The level or limit is refused.
        """
        params: dict[str, str | int] = {"after_seq": after_seq, "limit": limit}
        if level:
            params["level"] = level
        return list(self._get_json(f"{_run_path(run_id)}/logs", params)["lines"])

    def iter_logs(
        self,
        run_id: str,
        follow: bool = False,
        poll_interval: float = 0.5,
        level: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the run's log lines in order, page by page.

        With *follow*, keep polling every *poll_interval* seconds for new lines until the
        run has ended and every line is read; a KeyboardInterrupt (Ctrl-C) stops quietly.

        Raises:
            NotFoundError: The run does not exist.
        """
        after = 0
        try:
            while True:
                ended = follow and self.get_run(run_id).get("status") in c.TERMINAL_STATUSES
                page = self.get_logs(run_id, after, self.page_size, level)
                yield from page
                if page:
                    after = int(page[-1]["seq"])
                if len(page) == self.page_size:
                    continue
                if not follow or ended:
                    return
                time.sleep(poll_interval)
        except KeyboardInterrupt:
            return

    def get_spans(self, run_id: str) -> list[dict[str, Any]]:
        """Return the run's spans (its timeline) by start time.

        Each span is ``{trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns,
        status_code, status_message, attributes}``.

        Raises:
            NotFoundError: The run does not exist.
        """
        return list(self._get_json(f"{_run_path(run_id)}/spans")["spans"])

    # --- files ------------------------------------------------------------------------------

    def list_files(self, run_id: str) -> list[dict[str, Any]]:
        """Return the run's files (``path, size, sha256, created_ns``)."""
        return list(self._get_json(f"{_run_path(run_id)}/files")["files"])

    def download_file(
        self, run_id: str, path: str, output_file_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Stream one of the run's files to disk and return where it was written.

        Args:
            run_id: The run.
            path: The file's path in the run, e.g. ``"outputs/model.pkl"``.
            output_file_path: Where to write it; a directory keeps the file's base name.
                Default: the base name in the working directory.

        Raises:
            NotFoundError: The run or the file does not exist.
        """
        return self._download(_file_url(run_id, path), _target_path(path, output_file_path))

    def _download(self, url: str, target: Path) -> str:
        target.parent.mkdir(parents=True, exist_ok=True)
        token = INSIDE.set(True)  # as in _send: httpx's request log is runlog's own
        try:
            with self._http.stream("GET", url) as response:
                raise_for_status(response, self.endpoint)
                _write_atomically(target, response.iter_bytes(_CHUNK))
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        finally:
            INSIDE.reset(token)
        return str(target)

    def upload_file(
        self, run_id: str, path: str, source: Source, experiment: str | None = None
    ) -> dict[str, Any]:
        """Upload *source* as the run's file *path* (streamed) and return its ``File`` record.

        Args:
            run_id: The run; an unknown id creates the run.
            path: Relative ``/``-separated path in the run, e.g. ``"outputs/model.pkl"``.
            source: A filesystem path, bytes, or a binary file object.
            experiment: The experiment of a run the upload creates (default ``Default``).

        Raises:
            InvalidArgumentError: The path is refused (``..``, absolute, too long).
        """
        headers = {c.HEADER_EXPERIMENT: quote(experiment, safe="")} if experiment else {}
        url = _file_url(run_id, path)
        if isinstance(source, (bytes, bytearray, memoryview)):
            return dict(self._send("PUT", url, content=bytes(source), headers=headers).json())
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as stream:
                headers["Content-Length"] = str(os.fstat(stream.fileno()).st_size)
                return dict(self._send("PUT", url, content=stream, headers=headers).json())
        return dict(self._send("PUT", url, content=_chunks(source), headers=headers).json())

    # --- the model registry -------------------------------------------------------------------

    def list_models(self) -> list[dict[str, Any]]:
        """Return every registered model (``name, description, tags, aliases, created_ns,
        updated_ns, latest_version, version_count``), by name."""
        return list(self._get_json(f"{c.API_PREFIX}/models")["models"])

    def get_model(self, name: str) -> dict[str, Any]:
        """Return one registered model with its ``versions`` (oldest first).

        Raises:
            NotFoundError: No model of that name is registered.
        """
        return dict(self._get_json(f"{c.API_PREFIX}/models/{_model_name(name)}"))

    def register_model(
        self,
        name: str,
        run_id: str,
        path: str,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Register the run's file or folder *path* as the next version of model *name*
        (created if new) and return the version (``name, version, run_id, path, ...``).

        Raises:
            InvalidArgumentError: The run has no such file or folder, or a name is refused.
            NotFoundError: The run does not exist.
        """
        body = {
            "run_id": run_id,
            "path": path,
            "tags": dict(tags or {}),
            "properties": dict(properties or {}),
            "description": description,
        }
        url = f"{c.API_PREFIX}/models/{_model_name(name)}/versions"
        return dict(self._send("POST", url, json=body).json())

    def list_model_files(self, name: str, version: int) -> list[dict[str, Any]]:
        """Return a model version's files, paths relative to what was registered."""
        return list(self._get_json(_model_files_url(name, version))["files"])

    def download_model_file(self, name: str, version: int, path: str, target: Path) -> str:
        """Stream one file of a model version to *target*; return where it was written."""
        url = f"{_model_files_url(name, version)}/{quote(check_file_path(path), safe='/')}"
        return self._download(url, target)

    # --- submitted runs -----------------------------------------------------------------------

    def upload_snapshot(self, path: str | os.PathLike[str], digest: str) -> None:
        """Upload the snapshot zip *path* as *digest*, unless the collector has it already."""
        url = f"{c.API_PREFIX}/snapshots/{digest}"
        try:
            self._send("HEAD", url)
            return
        except NotFoundError:
            pass
        with open(path, "rb") as stream:
            size = str(os.fstat(stream.fileno()).st_size)
            headers = {"Content-Length": size, "Content-Type": "application/zip"}
            self._send("PUT", url, content=stream, headers=headers)

    def submit_run(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Queue a submitted run (``POST /api/v1/compute/runs``); return its submission."""
        return dict(self._send("POST", f"{c.API_PREFIX}/compute/runs", json=dict(body)).json())

    def get_submission(self, run_id: str) -> dict[str, Any]:
        """How *run_id* was submitted, its place in the queue and its status history."""
        return dict(self._get_json(f"{_run_path(run_id)}/submission"))

    def get_statuses(self, run_id: str) -> list[dict[str, Any]]:
        """Every status of the run with its time (``{status, time_ns}``), oldest first."""
        return list(self._get_json(f"{_run_path(run_id)}/statuses")["statuses"])

    def cancel_run(self, run_id: str) -> str:
        """Cancel a submitted run; return its status right after the request."""
        return str(self._send("POST", f"{_run_path(run_id)}/cancel").json()["status"])

    def list_queue(self, target: str | None = None) -> list[dict[str, Any]]:
        """Queued and running submitted runs (of *target*), in queue order."""
        params = {"target": target} if target else None
        return list(self._get_json(f"{c.API_PREFIX}/compute/queue", params)["runs"])

    def list_targets(self) -> list[dict[str, Any]]:
        """The collector's compute targets with their limits and queue lengths."""
        return list(self._get_json(f"{c.API_PREFIX}/compute/targets")["targets"])


# --- helpers --------------------------------------------------------------------------------


def _model_files_url(name: str, version: int) -> str:
    return f"{c.API_PREFIX}/models/{_model_name(name)}/versions/{int(version)}/files"


def _model_name(name: str) -> str:
    """*name* for a URL; '/' and ':' are refused here (model URIs use them as separators)."""
    if "/" in name or ":" in name:
        raise InvalidArgumentError(
            f"model name {name!r} contains '/' or ':', which model URIs use as separators"
        )
    return _seg(name)


def raise_for_status(response: httpx.Response, endpoint: str) -> None:
    """Raise the runlog error for a failed *response*; do nothing for a 2xx."""
    if response.is_success:
        return
    if not response.is_stream_consumed:
        response.read()
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "text/html" or response.content.lstrip()[:1] == b"<":
        raise _foreign_page(response, endpoint)
    raise error_for(response.status_code, _server_message(response, media), endpoint)


def _foreign_page(response: httpx.Response, endpoint: str) -> CollectorUnavailableError:
    """An HTML page instead of the collector's JSON: another server answers at *endpoint*."""
    import re

    found = re.search(rb"<title[^>]*>(.*?)</title>", response.content, re.I | re.S)
    title = found.group(1).decode(errors="replace").strip()[:80] if found else ""
    about = f" ({title!r})" if title else ""
    return CollectorUnavailableError(
        f"{endpoint} answered {response.request.method} {response.request.url.path} with an "
        f"HTML page{about}, HTTP {response.status_code}: not a runlog collector? Check "
        f"--endpoint / {c.ENV_ENDPOINT} (the collector's base URL, e.g. {c.DEFAULT_ENDPOINT})"
    )


def error_for(status: int, message: str, endpoint: str) -> RunlogError:
    """Map an HTTP status and the collector's message onto a runlog exception."""
    if status == 401:
        return AuthenticationError(
            f"{message}; give the collector's token: token= in Python, "
            "--token on the command line, or RUNLOG_TOKEN"
        )
    if status == 404:
        return NotFoundError(message)
    if status >= 500:
        return CollectorUnavailableError(
            f"the collector at {endpoint} failed ({status}): "
            f"{message}; retry later or check its log"
        )
    if 400 <= status < 500:
        return InvalidArgumentError(message)
    return RunlogError(f"unexpected answer {status} from the collector at {endpoint}: {message}")


def _server_message(response: httpx.Response, media: str = "") -> str:
    if media == "application/x-protobuf":  # an OTLP path answers a google.rpc.Status
        message = _status_message(response.content)
        if message is not None:
            return message
    try:
        body = response.json()
        if "error" not in body and "message" in body:  # MLflow's error body
            return str(body["message"])
        return f"{body['error']['message']}"
    except (ValueError, KeyError, TypeError):
        text = response.text.strip() if media != "application/x-protobuf" else ""
        return text[:500] or response.reason_phrase or f"HTTP {response.status_code}"


def _status_message(data: bytes) -> str | None:
    """The ``message`` (field 2) of a serialized ``google.rpc.Status``, or None.

    Read by hand: the light client does not depend on googleapis-common-protos.
    """
    pos = 0
    try:
        while pos < len(data):
            tag, pos = _varint(data, pos)
            if tag & 7 == 0:  # varint (the code)
                _, pos = _varint(data, pos)
            elif tag & 7 == 2:  # length-delimited (message, details)
                size, pos = _varint(data, pos)
                if tag >> 3 == 2:
                    return bytes(data[pos : pos + size]).decode("utf-8", "replace")
                pos += size
            else:
                return None
    except (IndexError, ValueError):
        return None
    return None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A protobuf base-128 varint at *pos*: (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos
        if shift > 63:
            raise ValueError("varint too long")


def _binary_series(response: httpx.Response, name: str, column: str) -> Series:
    headers = response.headers
    return decode_binary(
        response.content,
        name=name,
        column=column,
        kind=headers.get(c.HEADER_KIND, c.KIND_SCALAR),
        dtype=headers.get(c.HEADER_DTYPE, c.DTYPE_FLOAT),
        count=int(headers.get(c.HEADER_COUNT, "0")),
        downsampled=headers.get(c.HEADER_DOWNSAMPLED, "") == "true",
    )


def _many(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _seg(value: str) -> str:
    return quote(value, safe="")


def _run_path(run_id: str) -> str:
    if not c.is_valid_run_id(run_id):
        raise InvalidArgumentError(
            f"run id {run_id!r} is not 1-64 characters of "
            "[A-Za-z0-9_.-]; list runs with `runlog runs`"
        )
    return f"{c.API_PREFIX}/runs/{run_id}"


def check_file_path(path: str) -> str:
    """Return *path* if it is a relative ``/``-separated path inside a run, else raise.

    Checked here as well as by the collector because URLs normalise ``.`` and ``..``
    segments away before the collector could refuse them. The rule is
    `runlog.conventions.check_file_path`.

    Raises:
        InvalidArgumentError: The path is empty, absolute, too long, or has ``.``, ``..``,
            empty segments, backslashes, NUL or a drive letter.
    """
    problem = c.check_file_path(path)
    if problem is not None:
        raise InvalidArgumentError(
            f"file path {path[:80]!r} must be relative and /-separated, e.g. "
            f"'outputs/model.pkl': {problem}"
        )
    return path


def _file_url(run_id: str, path: str) -> str:
    return f"{_run_path(run_id)}/files/{quote(check_file_path(path), safe='/')}"


def _target_path(path: str, output: str | os.PathLike[str] | None) -> Path:
    base = path.rsplit("/", 1)[-1]
    if output is None:
        return Path.cwd() / base
    target = Path(output)
    return target / base if target.is_dir() else target


def _write_atomically(target: Path, chunks: Iterable[bytes]) -> None:
    """Write to a temporary file beside *target*, then rename: no half-written files."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        # mkstemp makes the file 0600; a downloaded file gets the mode any new file gets.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it (Linux); 0o022 where it cannot be."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk


# --- pandas ---------------------------------------------------------------------------------

_BASE_COLUMNS = ["run_id", "experiment", "name", "status", "start_time", "end_time"]


def run_row(run: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten one ``Run`` dict: base fields, ``metrics.X`` (last value), params, tags."""
    row = {k: run.get(k) for k in ("run_id", "experiment", "name", "status")}
    row["start_time"], row["end_time"] = run.get("start_ns"), run.get("end_ns")
    for summary in run.get("metrics", []):
        if summary.get("kind", c.KIND_SCALAR) == c.KIND_SCALAR and not summary.get("column"):
            row[f"metrics.{summary['name']}"] = summary.get("last")
    row.update({f"params.{k}": v for k, v in run.get("params", {}).items()})
    row.update({f"tags.{k}": v for k, v in run.get("tags", {}).items()})
    return row


def runs_to_pandas(runs: Iterable[Mapping[str, Any]]) -> Any:
    """Return a pandas DataFrame of *runs*, one row per run.

    Columns: ``run_id, experiment, name, status, start_time, end_time`` (UTC timestamps),
    then ``metrics.X`` (the last value of each scalar metric), ``params.X`` and ``tags.X``.

    Raises:
        ImportError: pandas is not installed.
    """
    try:
        import pandas as pd
    except ImportError as exc:
        from runlog.extras import missing_message

        raise ImportError(missing_message("runs_to_pandas()", exc), name=exc.name) from exc
    frame = pd.DataFrame([run_row(r) for r in runs])
    if frame.empty:
        return pd.DataFrame(columns=_BASE_COLUMNS)
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ns", utc=True)
    return frame


__all__ = [
    "BINARY_THRESHOLD",
    "Client",
    "Series",
    "check_file_path",
    "error_for",
    "raise_for_status",
    "run_row",
    "runs_to_pandas",
]
