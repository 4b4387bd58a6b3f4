"""`RunRecorder`: the write side of one run, and the one place each kind of record is built.

Every producer writes through a recorder: `runlog.run.Run` is one (it adds the queries and
the navigation); `runlog.RunlogHandler`, `runlog.RunlogProcessor`, the launcher's output
capture and the instrumentors write into the active run (`runlog.active_run`) through the
same methods. The typed methods — `RunRecorder.log` (a metric point), `points` (list, row,
table, image), `event`, `log_line`, `upload_file`, `record_params`, `finish` — build the
op tuples of `runlog._packer` (kept as tuples: appending one costs ~0.1 µs) and append
them to the process's pipeline.

Nothing here raises into training or waits for the network (`flush` and `finish` wait, with
a bound): a refused name or value is dropped with one line on ``runlog.internal``.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from time import time_ns as _time_ns
from typing import IO, TYPE_CHECKING, Any

from runlog import _lifecycle
from runlog import conventions as c
from runlog._logfields import metric_value
from runlog._packer import OP_EVENT, OP_LOG, OP_POINTS, OP_SERIES, OP_UPLOAD, RunHandle
from runlog._records import RunKey
from runlog._values import PLAIN, Invalid, check_string, coerce

if TYPE_CHECKING:
    from runlog._pipeline import Pipeline

_log = logging.getLogger("runlog.internal")
_PLAIN_TYPES = frozenset(PLAIN)
#: One buffered metric point: ``(value, step, time_ns)``.
Point = tuple[Any, Any, int]
#: An exception on a log line: ``(type, message, stacktrace)``.
ExceptionFields = tuple[str, str, str]


class RunRecorder:
    """What one run records, appended to *pipeline* (never raises, never waits).

    Args:
        pipeline: The process's exporter for the run's collector.
        run_id: The run's id; *experiment*, *parent_id* and *name* describe it.
        owned: This process started the run and finishes it (at exit at the latest).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        run_id: str,
        experiment: str,
        parent_id: str | None,
        name: str | None,
        owned: bool,
    ) -> None:
        self._id = run_id
        self._name = name
        self._parent_id = parent_id
        self._owned = owned
        self._status = c.STATUS_RUNNING
        self._pipeline = pipeline
        self._append = pipeline.append
        self._handle = RunHandle(RunKey(run_id, experiment, parent_id, name))
        self._params: dict[str, str] = {}
        self._properties: dict[str, str] = {}
        self._images: dict[str, int] = {}
        self._series: dict[str, Callable[[Point], None]] = self._handle.appenders

    @property
    def id(self) -> str:
        """The run id."""
        return self._id

    @property
    def name(self) -> str | None:
        """The display name."""
        return self._name

    @property
    def parent_id(self) -> str | None:
        """The parent run's id, or None."""
        return self._parent_id

    @property
    def finished(self) -> bool:
        """The run ended (in this process, or as its collector said when it was fetched)."""
        return self._status in c.TERMINAL_STATUSES

    @property
    def experiment_name(self) -> str:
        """The name of the run's experiment."""
        return self._handle.key.experiment

    # --- metric points -----------------------------------------------------------------------
    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log one value (float, int, bool or str) of metric *name*; repeats make a vector.

        Args:
            name: Metric name (1-255 characters).
            value: The value; numpy and torch scalars are converted.
            description: Accepted for Azure ML compatibility; not stored.
            step: Explicit step; by default the previous step of this metric plus one.
        """
        if type(value) not in _PLAIN_TYPES:
            value = coerce(value)
        try:
            self._series[name]((value, step, _time_ns()))
        except (KeyError, TypeError):  # first point of this name (or an unhashable name)
            self._new_series(name)((value, step, _time_ns()))

    def _new_series(self, name: Any) -> Callable[[Point], None]:
        reason = c.check_name("metric name", name)
        if reason:
            _log.warning("run %s: %r not logged: %s", self._id, str(name)[:80], reason)
            if isinstance(name, str):
                self._series[name] = _ignore  # warn once, then stay cheap
            return _ignore
        queue: deque[Point] = deque()
        self._series[name] = queue.append
        self._append((OP_SERIES, self._handle, name, queue))
        return queue.append

    def points(self, name: str, kind: str, columns: dict[str, list[Any]]) -> None:
        """Record metric *name* of *kind* (``list``, ``row``, ``table``, ``image``) whose
        values are *columns* (``{"": values}`` for one column), already coerced."""
        self._append((OP_POINTS, self._handle, name, kind, columns, _time_ns()))

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        """Log a list of values as metric *name* (kind ``list``)."""
        try:
            values = [coerce(v) for v in value]
        except TypeError:
            _log.warning(
                "run %s: log_list(%r) needs an iterable, got %s",
                self._id,
                name,
                type(value).__name__,
            )
            return
        self.points(name, c.KIND_LIST, {"": values})

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Log one row of table *name*; repeated rows build up the table's columns."""
        columns = self._columns(name, {k: [v] for k, v in kwargs.items()})
        if columns:
            self.points(name, c.KIND_ROW, columns)

    def log_table(self, name: str, value: Mapping[str, Any], description: str = "") -> None:
        """Log a table as ``{column: [values]}``; columns must have the same length."""
        try:
            columns = {k: list(v) for k, v in value.items()}
        except (AttributeError, TypeError):
            _log.warning("run %s: log_table(%r) needs a dict of lists", self._id, name)
            return
        if len({len(v) for v in columns.values()}) > 1:
            _log.warning(
                "run %s: log_table(%r) columns differ in length: %s",
                self._id,
                name,
                {k: len(v) for k, v in columns.items()},
            )
            return
        checked = self._columns(name, columns)
        if checked:
            self.points(name, c.KIND_TABLE, checked)

    def _columns(self, name: str, columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if not columns:
            _log.warning("run %s: %r has no columns; nothing logged", self._id, name)
            return {}
        for column in columns:
            reason = c.check_name("column name", column)
            if reason:
                _log.warning("run %s: %r not logged: %s", self._id, name, reason)
                return {}
        return {k: [coerce(v) for v in values] for k, values in columns.items()}

    def log_image(
        self,
        name: str,
        path: str | os.PathLike[str] | None = None,
        plot: Any = None,
        description: str = "",
    ) -> None:
        """Log an image from a file (*path*) or a matplotlib figure or pyplot (*plot*).

        The image is uploaded to ``images/<name>.png`` (``_<n>`` added on repeats) and the
        metric's value is that file path.
        """
        if (path is None) == (plot is None):
            _log.warning(
                "run %s: log_image(%r) needs exactly one of path= or plot=", self._id, name
            )
            return
        count = self._images.get(name, 0)
        self._images[name] = count + 1
        suffix = Path(path).suffix if path is not None else ".png"
        target = f"images/{_safe_file_stem(name)}{f'_{count}' if count else ''}{suffix or '.png'}"
        source: Any = path
        if plot is not None:
            source = _render(plot)
            if source is None:
                _log.warning("run %s: log_image(%r): plot cannot be saved as PNG", self._id, name)
                return
        if self.upload_file(target, source) is None:
            return
        self.points(name, c.KIND_IMAGE, {"": [target]})

    # --- tags, params, properties, events ---------------------------------------------------
    def tag(self, key: str, value: Any = None) -> None:
        """Set tag *key* (mutable); without a value the tag is set to an empty string."""
        self._key_value(c.EVENT_TAG, "tag", key, value)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags."""
        for key, value in tags.items():
            self.tag(key, value)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log hyperparameters; each is immutable once set (a different value is refused)."""
        for key, value in params.items():
            if self._immutable(self._params, "param", key, value):
                self._key_value(c.EVENT_PARAM, "param", key, value)

    def log_param(self, key: str, value: Any) -> None:
        """Log one hyperparameter."""
        self.log_params({key: value})

    def record_params(self, params: Mapping[str, Any]) -> None:
        """Params found by autolog, which may see one change (a second optimizer, another
        trial in the same process): that is not the user's mistake, so nothing is said.

        The first value stays the param. A later different value is kept too: a number as
        the next point of the metric of the param's name (its first value its first point),
        anything else as the param ``key.2``, ``key.3`` …
        """
        for key, value in params.items():
            text = check_string(f"param {key!r}", value)
            if isinstance(text, Invalid):
                _log.debug("run %s: param %r not recorded: %s", self._id, key, text.reason)
                continue
            known = self._params.get(key)
            if known is None:
                self.log_params({key: value})
            elif known != text:
                self._param_changed(key, known, value, text)

    def _param_changed(self, key: str, known: str, value: Any, text: str) -> None:
        number = metric_value(value)
        if number is not None:
            if key not in self._series:  # the param's first value opens its history
                first = _as_number(known)
                if first is not None:
                    self.log(key, first)
            self.log(key, number)
            return
        index = 2
        while self._params.get(f"{key}.{index}", text) != text:
            index += 1
        self.log_params({f"{key}.{index}": value})

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Add immutable properties (facts about the run that are not hyperparameters)."""
        for key, value in properties.items():
            if self._immutable(self._properties, "property", key, value):
                self._key_value(c.EVENT_PROPERTY, "property", key, value)

    def _immutable(self, known: dict[str, str], what: str, key: str, value: Any) -> bool:
        text = check_string(f"{what} {key!r}", value)
        if isinstance(text, Invalid):
            _log.warning("run %s: %s", self._id, text.reason)
            return False
        if key in known and known[key] != text:
            _log.warning(
                "run %s: %s %r is already %r; %ss cannot change (not set to %r)",
                self._id,
                what,
                key,
                known[key],
                what,
                text,
            )
            return False
        known[key] = text
        return True

    def _key_value(self, event: str, what: str, key: Any, value: Any) -> None:
        reason = c.check_name(f"{what} name", key)
        text = check_string(f"{what} {key!r}", value)
        if reason or isinstance(text, Invalid):
            _log.warning(
                "run %s: %s not set: %s", self._id, what, reason or getattr(text, "reason", "")
            )
            return
        self.event(event, ((c.KEY, key), (c.VALUE, text)))

    def event(self, name: str, attributes: tuple[tuple[str, Any], ...] = ()) -> None:
        """Record lifecycle or key-value event *name* (`runlog.conventions` ``EVENT_*``)."""
        self._append((OP_EVENT, self._handle, name, attributes, _time_ns()))

    # --- log lines ------------------------------------------------------------------------
    def log_line(
        self,
        message: str,
        logger: str,
        severity_number: int = 9,
        severity_text: str = "INFO",
        time_ns: int | None = None,
        exception: ExceptionFields | None = None,
        stream: str | None = None,
    ) -> None:
        """Record one log line of *logger* (for captured output, *stream* is ``stdout`` or
        ``stderr`` and *logger* the same); *time_ns* defaults to now."""
        when = _time_ns() if time_ns is None else time_ns
        line = (
            OP_LOG,
            self._handle,
            when,
            severity_number,
            severity_text,
            logger,
            message,
            exception,
        )
        self._append(line if stream is None else (*line, stream))

    # --- files ----------------------------------------------------------------------------
    def upload_file(
        self, name: str, path_or_stream: str | os.PathLike[str] | IO[bytes] | bytes
    ) -> str | None:
        """Upload a file (path, binary stream or bytes) as run file *name*.

        The content is kept as it is now and sent in the background: bytes and streams
        are written into the spool, a file is cloned or hard linked into it (else copied by
        a background thread), so the call does not wait for a copy; a file changed in place
        afterwards is reported. If the spool cannot be written, the file is uploaded
        directly. Returns *name*, or None if it was refused (the reason is logged).
        """
        reason = c.check_file_path(name)
        if reason:
            _log.warning("run %s: file %r not uploaded: %s", self._id, name, reason)
            return None
        try:
            upload = self._pipeline.spool.stage_upload(
                self._id, self.experiment_name, name, path_or_stream
            )
        except OSError as exc:
            _log.warning("run %s: file %r not uploaded: %s", self._id, name, exc)
            return None
        self._append((OP_UPLOAD, upload))
        return name

    def upload_files(self, names: list[str], paths: list[str | os.PathLike[str]]) -> None:
        """Upload several files."""
        for name, path in zip(names, paths, strict=True):
            self.upload_file(name, path)

    def upload_folder(self, name: str, path: str | os.PathLike[str]) -> list[str]:
        """Upload every file under folder *path* as ``<name>/<relative path>``."""
        root = Path(path)
        uploaded = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            target = f"{name.rstrip('/')}/{file.relative_to(root).as_posix()}"
            if self.upload_file(target, file):
                uploaded.append(target)
        return uploaded

    # --- lifecycle --------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until this process's buffered data was sent (or spooled); False on timeout."""
        return self._pipeline.flush(timeout)

    def _begin(self) -> None:
        """The run starts here: its start event, heartbeats while it is live, and (owned)
        its place in the registry of runs finished at exit."""
        self.event(c.EVENT_RUN_START, ((c.STATUS, c.STATUS_RUNNING),))
        self._pipeline.watch(self._handle)
        if self._owned:
            _lifecycle.register(self)

    def finish(self, status: str, error: str | None = None, wait: bool = True) -> None:
        """End the run with *status* (and *error* text); *wait* flushes (autolog passes
        False: its end event goes with the exporter's next cycle instead of a round trip
        per fit)."""
        self._status = status
        attributes: tuple[tuple[str, Any], ...] = ((c.STATUS, status),)
        if error:
            attributes += ((c.ERROR, error),)
        self.event(c.EVENT_RUN_END, attributes)
        self._pipeline.unwatch(self._handle)
        _lifecycle.unregister(self)
        if wait:
            self.flush()


def _ignore(point: Point) -> None:
    """Where points of an invalid metric name go (one warning was logged)."""


def _safe_file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "image"


def _render(plot: Any) -> bytes | None:
    savefig = getattr(plot, "savefig", None)
    if not callable(savefig):
        return None
    buffer = io.BytesIO()
    try:
        savefig(buffer, format="png")
    except Exception:  # a plotting error must not break training
        _log.warning("log_image: savefig() failed", exc_info=True)
        return None
    return buffer.getvalue()


def _as_number(text: str) -> float | int | None:
    """A param's stored text as the number it was, or None."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return None


__all__ = ["ExceptionFields", "Point", "RunRecorder"]
