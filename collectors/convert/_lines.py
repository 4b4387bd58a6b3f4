"""Log lines: OTel log records that are not runlog events, and the severity scale.

Pure helpers for `collectors.convert` and the query API. The mapping follows the OTel log
data model: severity numbers 1-4 are TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR,
21-24 FATAL; the body is the message (a string, or JSON for any other value); the
instrumentation scope name is the logger; ``exception.*`` attributes (OTel semantic
conventions) make the exception text; ``log.iostream`` marks captured stdout/stderr.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from collectors.convert import _anyvalue as av
from collectors.ops import LogLine

EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
LOG_IOSTREAM: Final = "log.iostream"
_STREAMS: Final = frozenset({"stdout", "stderr"})

#: Severity names and the lowest OTel severity number of each (1-24 in steps of four).
LEVELS: Final = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}
#: Other names people use for the same levels (Python's logging, syslog habits).
LEVEL_ALIASES: Final = {"WARNING": "WARN", "CRITICAL": "FATAL"}
#: Longest message and exception text kept (longer ones are cut, with a marker).
MAX_TEXT_LENGTH: Final = 64 * 1024
_CUT: Final = "… (truncated)"


def level_name(number: int) -> str:
    """The severity text of an OTel severity number (``""`` for 0, unset)."""
    if number <= 0:
        return ""
    for name, lowest in reversed(LEVELS.items()):
        if number >= lowest:
            return name
    return ""  # pragma: no cover - every positive number is >= 1


_LEVEL_NAMES: Final = [level_name(number) for number in range(25)]


def min_level_number(name: str) -> int:
    """The lowest severity number of level *name* (case-insensitive, aliases allowed).

    Raises:
        ValueError: *name* is not a level; the message lists the known ones.
    """
    upper = name.strip().upper()
    upper = LEVEL_ALIASES.get(upper, upper)
    if upper not in LEVELS:
        known = ", ".join([*LEVELS, "WARNING", "CRITICAL"])
        raise ValueError(f"unknown level {name[:40]!r}; expected one of {known}")
    return LEVELS[upper]


def log_line(record: LogRecord, attrs: dict[str, AnyValue], logger: str, time_ns: int) -> LogLine:
    """The log line a (non-event) log record makes."""
    number = record.severity_number
    level = record.severity_text or _LEVEL_NAMES[number if 0 <= number <= 24 else 24]
    message = _body_text(record)
    if len(message) > MAX_TEXT_LENGTH:
        message = _cut(message)
    if not attrs:  # the common case: skip the attribute look-ups
        return LogLine(time_ns, number, level, logger, message)
    stream = av.get_str(attrs, LOG_IOSTREAM)
    return LogLine(
        time_ns,
        number,
        level,
        logger,
        message,
        _exception_text(attrs),
        stream if stream in _STREAMS else None,
    )


def _body_text(record: LogRecord) -> str:
    if not record.HasField("body"):
        return ""
    body = record.body
    field = body.WhichOneof("value")
    if field == "string_value":
        return body.string_value
    if field is None:
        return ""
    if field == "bytes_value":
        return body.bytes_value.hex()
    return av.to_json(body)


def _exception_text(attrs: dict[str, AnyValue]) -> str | None:
    """``Type: message`` then the stack trace, or None without exception attributes."""
    stacktrace = av.get_str(attrs, EXCEPTION_STACKTRACE)
    kind = av.get_str(attrs, EXCEPTION_TYPE)
    message = av.get_str(attrs, EXCEPTION_MESSAGE)
    if stacktrace:
        return _cut(stacktrace)  # Python's and most SDKs' traces end with "Type: message"
    if kind or message:
        return _cut(": ".join(part for part in (kind, message) if part))
    return None


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT_LENGTH:
        return text
    return text[: MAX_TEXT_LENGTH - len(_CUT)] + _CUT
