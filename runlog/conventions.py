"""The wire contract: every name that crosses from a producer to the collector.

Both `runlog` (the client) and `collectors` (the sidecar) import these constants; nothing
else spells them out. Any OpenTelemetry SDK in any language can feed runlog by emitting
OTLP log records with these names. docs/wire-contract.md describes them for non-Python
producers.

Which run
    Resource attributes (or, per record, record attributes) ``runlog.run.id``,
    ``runlog.experiment``, ``runlog.run.parent_id`` and ``runlog.run.name``. An unknown run id
    creates the run (status Running).

Events
    Log records whose ``event_name`` is one of the ``EVENT_*`` names below. Older SDKs that
    cannot set ``event_name`` may put the same string in the ``event.name`` attribute.

One metric point (any OTel client)
    ``event_name = "runlog.metric"`` with attributes ``runlog.metric.name``,
    ``runlog.metric.value`` (double, int, bool or string) and optional ``runlog.metric.step``
    (int). The point's time is the record's ``time_unix_nano`` (observed time when zero).

Packed points (runlog's fast path)
    ``event_name = "runlog.metric.packed"``: many points of one metric column in one record.
    ``runlog.metric.steps`` and ``runlog.metric.timestamps`` are bytes of little-endian int64
    (timestamps in Unix nanoseconds); ``runlog.metric.values`` is bytes of little-endian
    float64 (dtype ``f8``), int64 (``i8``) or uint8 0/1 (``bool``), or an array of strings
    (``str``); ``runlog.metric.dtype`` says which. All three have the same length.

Both metric shapes take ``runlog.metric.kind`` (default ``scalar``) and, for rows and
tables, ``runlog.metric.column``.
"""

from __future__ import annotations

import re
from typing import Final

# --- which run (public, fixed by DESIGN.md) -------------------------------------------------
RUN_ID: Final = "runlog.run.id"
EXPERIMENT: Final = "runlog.experiment"
PARENT_RUN_ID: Final = "runlog.run.parent_id"
RUN_NAME: Final = "runlog.run.name"
#: Producer-chosen id of one export request; the collector ignores a batch id it has kept
#: before, so a request replayed from a spool after a lost reply is not counted twice.
BATCH_ID: Final = "runlog.batch.id"
#: Fallback experiment for data that names none.
DEFAULT_EXPERIMENT: Final = "Default"
#: The run file that holds a submitted run's source snapshot (written by the collector).
SNAPSHOT_FILE: Final = "snapshot.zip"

# --- events ----------------------------------------------------------------------------------
EVENT_NAME_ATTRIBUTE: Final = "event.name"  # for SDKs without LogRecord.event_name
EVENT_METRIC: Final = "runlog.metric"
EVENT_METRIC_PACKED: Final = "runlog.metric.packed"
EVENT_RUN_START: Final = "runlog.run.start"
EVENT_RUN_STATUS: Final = "runlog.run.status"
EVENT_RUN_END: Final = "runlog.run.end"
EVENT_TAG: Final = "runlog.tag"
EVENT_PARAM: Final = "runlog.param"
EVENT_PROPERTY: Final = "runlog.property"
#: A sign of life from the process that owns a live run (no attributes besides the run's
#: identity). Any record of the run counts as a sign of life too; after
#: ``--heartbeat-timeout`` seconds of silence the collector marks the run NotResponding,
#: and after ``--dead-after`` more seconds Failed with a reason.
EVENT_RUN_HEARTBEAT: Final = "runlog.run.heartbeat"
#: A file of the run that the producer uploaded to the collector's files endpoint (the
#: bytes travel there, never in OTLP): attributes `FILE_PATH`, `FILE_SIZE`, `FILE_SHA256`.
#: The record is added if the path has none; an upload's own record is never overwritten.
EVENT_FILE: Final = "runlog.file"

# --- metric attributes -----------------------------------------------------------------------
METRIC_NAME: Final = "runlog.metric.name"
METRIC_VALUE: Final = "runlog.metric.value"
METRIC_STEP: Final = "runlog.metric.step"
METRIC_KIND: Final = "runlog.metric.kind"
METRIC_COLUMN: Final = "runlog.metric.column"
METRIC_DTYPE: Final = "runlog.metric.dtype"
METRIC_STEPS: Final = "runlog.metric.steps"
METRIC_TIMESTAMPS: Final = "runlog.metric.timestamps"
METRIC_VALUES: Final = "runlog.metric.values"

KIND_SCALAR: Final = "scalar"
KIND_LIST: Final = "list"
KIND_ROW: Final = "row"
KIND_TABLE: Final = "table"
KIND_IMAGE: Final = "image"
KINDS: Final = frozenset({KIND_SCALAR, KIND_LIST, KIND_ROW, KIND_TABLE, KIND_IMAGE})
#: OTel histograms (columns count, sum, min, max, buckets): made by the collector from OTel
#: metrics only, so not one of the `KINDS` a runlog.metric record may name.
KIND_HISTOGRAM: Final = "histogram"
STORED_KINDS: Final = KINDS | {KIND_HISTOGRAM}

DTYPE_FLOAT: Final = "f8"
DTYPE_INT: Final = "i8"
DTYPE_BOOL: Final = "bool"
DTYPE_STR: Final = "str"
DTYPES: Final = frozenset({DTYPE_FLOAT, DTYPE_INT, DTYPE_BOOL, DTYPE_STR})

# --- file event --------------------------------------------------------------------------------
FILE_PATH: Final = "runlog.file.path"  # string: the run file path (see `check_file_path`)
FILE_SIZE: Final = "runlog.file.size"  # int: bytes
FILE_SHA256: Final = "runlog.file.sha256"  # string: 64 lowercase hex digits

# --- key/value events (tag, param, property) -------------------------------------------------
KEY: Final = "runlog.key"
VALUE: Final = "runlog.value"

# --- lifecycle ---------------------------------------------------------------------------------
STATUS: Final = "runlog.run.status"
ERROR: Final = "runlog.run.error"

# The Azure ML v1 run lifecycle: NotStarted -> Queued -> Preparing -> Running -> Finalizing ->
# Completed | Failed | Canceled. NotResponding is set by the collector when a live run goes
# silent; its data arriving again returns it to Running.
STATUS_NOT_STARTED: Final = "NotStarted"
STATUS_QUEUED: Final = "Queued"
STATUS_PREPARING: Final = "Preparing"
STATUS_RUNNING: Final = "Running"
STATUS_FINALIZING: Final = "Finalizing"
STATUS_NOT_RESPONDING: Final = "NotResponding"
STATUS_COMPLETED: Final = "Completed"
STATUS_FAILED: Final = "Failed"
STATUS_CANCELED: Final = "Canceled"
STATUSES: Final = frozenset(
    {
        STATUS_NOT_STARTED,
        STATUS_QUEUED,
        STATUS_PREPARING,
        STATUS_RUNNING,
        STATUS_FINALIZING,
        STATUS_NOT_RESPONDING,
        STATUS_COMPLETED,
        STATUS_FAILED,
        STATUS_CANCELED,
    }
)
TERMINAL_STATUSES: Final = frozenset({STATUS_COMPLETED, STATUS_FAILED, STATUS_CANCELED})

# --- limits shared by both sides ---------------------------------------------------------------
RUN_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_DRIVE: Final = re.compile(r"[A-Za-z]:")
MAX_NAME_LENGTH: Final = 255  # metric, column, tag, param and experiment names
MAX_VALUE_LENGTH: Final = 8192  # string metric values, tag, param and property values
MAX_FILE_PATH_LENGTH: Final = 1024
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

# --- environment and HTTP ----------------------------------------------------------------------
ENV_ENDPOINT: Final = "RUNLOG_ENDPOINT"
ENV_TOKEN: Final = "RUNLOG_TOKEN"
ENV_RUN_ID: Final = "RUNLOG_RUN_ID"
ENV_EXPERIMENT: Final = "RUNLOG_EXPERIMENT"
ENV_SPOOL_DIR: Final = "RUNLOG_SPOOL_DIR"
ENV_FLUSH_TIMEOUT: Final = "RUNLOG_FLUSH_TIMEOUT"
ENV_DATA_DIR: Final = "RUNLOG_DATA_DIR"
#: The collector's store URL (``postgresql://…``); SQLite in the data directory when unset.
ENV_STORE: Final = "RUNLOG_STORE"
#: Where the collector keeps run files (``s3://bucket/prefix``); the data directory when unset.
ENV_FILES: Final = "RUNLOG_FILES"
#: Seconds between heartbeats a live run's process sends (default 10).
ENV_HEARTBEAT_INTERVAL: Final = "RUNLOG_HEARTBEAT_INTERVAL"
#: ``1`` / ``true``: every run samples CPU, memory and GPU (`runlog.system_metrics`).
ENV_SYSTEM_METRICS: Final = "RUNLOG_SYSTEM_METRICS"
#: Seconds between system metric samples (default 5).
ENV_SYSTEM_METRICS_INTERVAL: Final = "RUNLOG_SYSTEM_METRICS_INTERVAL"
#: ``1``: runlog's own errors inside instrumentation raise instead of being logged (tests, CI).
ENV_INSTRUMENTATION_STRICT: Final = "RUNLOG_INSTRUMENTATION_STRICT"
#: Set by the collector for a submitted run's interpreter: a folder holding runlog's client,
#: appended to ``sys.path`` by the launcher's ``sitecustomize`` (which spells it out: it runs
#: before runlog can be imported).
ENV_CLIENT_PATH: Final = "RUNLOG_CLIENT_PATH"
DEFAULT_HEARTBEAT_INTERVAL: Final = 10.0
#: Metric points a process holds in memory for the collector before it spills them to the
#: spool on disk (default 1,000,000): memory stays bounded when the collector is slower.
ENV_MAX_BUFFERED_POINTS: Final = "RUNLOG_MAX_BUFFERED_POINTS"
DEFAULT_ENDPOINT: Final = "http://127.0.0.1:4318"
DEFAULT_HTTP_PORT: Final = 4318
DEFAULT_GRPC_PORT: Final = 4317
OTLP_LOGS_PATH: Final = "/v1/logs"
OTLP_TRACES_PATH: Final = "/v1/traces"
OTLP_METRICS_PATH: Final = "/v1/metrics"
API_PREFIX: Final = "/api/v1"
#: Header on a file upload naming the run's experiment, used when the upload creates the run.
HEADER_EXPERIMENT: Final = "X-Runlog-Experiment"
#: Media type of a metric vector in the query API's binary format (docs/api.md): steps and
#: times as little-endian int64, then the values; the headers below describe it.
BINARY_MEDIA_TYPE: Final = "application/vnd.runlog.vector"
HEADER_COUNT: Final = "X-Runlog-Count"
HEADER_DTYPE: Final = "X-Runlog-Dtype"
HEADER_KIND: Final = "X-Runlog-Kind"
HEADER_DOWNSAMPLED: Final = "X-Runlog-Downsampled"


def is_valid_run_id(run_id: object) -> bool:
    """Tell whether *run_id* is 1-64 characters of ``[A-Za-z0-9_.-]``."""
    return isinstance(run_id, str) and RUN_ID_PATTERN.fullmatch(run_id) is not None


def check_name(what: str, name: object) -> str | None:
    """Return why *name* is not a valid metric, tag, param or experiment name, or None."""
    if not isinstance(name, str):
        return f"{what} must be a string, got {type(name).__name__}"
    if not name or not name.strip():
        return f"{what} must not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"{what} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
    if "\x00" in name:
        return f"{what} must not contain NUL characters"
    if not is_utf8(name):
        return f"{what} {NOT_UTF8}"
    return None


#: Why a string with a lone surrogate is refused (it cannot travel as UTF-8).
NOT_UTF8: Final = (
    "holds a lone surrogate that UTF-8 cannot carry (often from decoding a file name "
    "that is not UTF-8); use os.fsdecode or errors='replace'"
)


def is_utf8(text: str) -> bool:
    """True if *text* can be encoded as UTF-8 (it holds no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_file_path(path: object) -> str | None:
    """Return why *path* is not a valid run file path, or None if it is.

    A run file path is relative and ``/``-separated: no leading ``/``, no drive letter, no
    backslash, no NUL, no empty, ``.`` or ``..`` segments, at most 1024 characters. The one
    rule for the client, the query client and the collector's file store.
    """
    if not isinstance(path, str):
        return f"file path must be a string, got {type(path).__name__}"
    if not path:
        return "it is empty; expected a relative path such as 'outputs/model.pkl'"
    if len(path) > MAX_FILE_PATH_LENGTH:
        return f"it is {len(path)} characters long; the limit is {MAX_FILE_PATH_LENGTH}"
    if "\x00" in path:
        return "it contains a NUL character"
    if "\\" in path:
        return "it contains a backslash; separate directories with '/'"
    if path.startswith("/"):
        return "it is absolute; expected a path relative to the run, e.g. 'outputs/x.txt'"
    if _DRIVE.match(path):
        return "it starts with a drive letter; expected a path relative to the run"
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return f"it has an empty, '.' or '..' segment ({segment!r}); '..' is never allowed"
    return None


# --- auto-instrumentation and `runlog run` (docs/autolog.md) ---------------------------------
#: Which libraries a launched interpreter auto-instruments: ``sklearn,torch,logging``, ``1``
#: (all) or ``0`` (none). Set by ``runlog run``; read at interpreter start by its bootstrap.
ENV_AUTOLOG: Final = "RUNLOG_AUTOLOG"
#: Names `ENV_AUTOLOG` accepts, besides ``1``/``all`` and ``0``/``none``.
AUTOLOG_NAMES: Final = ("sklearn", "torch", "logging")
#: Whether ``runlog run`` reads print-style metrics (``epoch 3 loss=1.62``, ``eval_loss: 1.6``)
#: from the command's stdout and its log messages: ``1`` (its default) or ``0``.
ENV_PARSE_METRICS: Final = "RUNLOG_PARSE_METRICS"
#: OTel log attribute marking a captured stdout/stderr line (OTel semantic conventions).
LOG_IOSTREAM: Final = "log.iostream"
#: Run properties ``runlog run`` records (facts about how the run was launched).
PROPERTY_COMMAND: Final = "runlog.command"
PROPERTY_CWD: Final = "runlog.cwd"
PROPERTY_EXIT_CODE: Final = "runlog.exit_code"
PROPERTY_GIT_COMMIT: Final = "runlog.git.commit"
PROPERTY_GIT_BRANCH: Final = "runlog.git.branch"
PROPERTY_GIT_DIRTY: Final = "runlog.git.dirty"
PROPERTY_PYTHON_VERSION: Final = "runlog.python.version"
PROPERTY_PYTHON_EXECUTABLE: Final = "runlog.python.executable"
#: Prefix of the installed-version properties: ``runlog.package.torch = "2.13.0"``.
PROPERTY_PACKAGE_PREFIX: Final = "runlog.package."
