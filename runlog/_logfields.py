"""From log records to run data, as pure functions shared by the handler and the processor.

* `severity_number`: a stdlib level number as an OpenTelemetry severity number.
* `level_number`: a level *name* (structlog's ``"info"``, ``"warn"``…) as a stdlib number.
* `metric_value`: a value that counts as a metric point (int, float, numpy/torch scalar —
  not bool, not str), or None.
* `parse_key_values`: ``"epoch 3 loss=0.31 acc: 0.90"`` →
  ``{"epoch": 3, "loss": 0.31, "acc": 0.9}``.
* `split_points`: key-values → ``(points, step)``: the first step key present is the step.
* `exception_fields`: ``exc_info`` → ``(type, message, stacktrace)``.
"""

from __future__ import annotations

import logging
import numbers
import re
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Final

from runlog._values import Invalid, check_step, coerce

#: Keys whose value, when numeric, is the step of the other points (the first one present).
STEP_KEYS: Final = ("step", "global_step", "iteration", "iter", "epoch")
#: Attributes every `logging.LogRecord` has (never metrics), plus those formatters add.
RECORD_ATTRIBUTES: Final = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "exc_info",
    "exc_text",
    "stack_info",
}
#: Extra keys that are not metrics even when numeric (default ``ignore_keys``).
COMMON_EXTRAS: Final = frozenset(
    {"metrics", "color_message", "status_code", "pid", "port", "tid", "user_id", "request_id"}
)
#: Keys of a structlog event dict that are never metrics.
STRUCTLOG_KEYS: Final = frozenset(
    {"event", "level", "logger", "logger_name", "timestamp", "exc_info", "exception", "stack"}
    | {"stack_info", "positional_args", "lineno", "pathname", "filename", "func_name"}
    | {"module", "process", "process_name", "thread", "thread_name", "metrics"}
)
_LEVEL_NAMES: Final = {
    "trace": 5,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "log": logging.INFO,
    "notice": 25,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}
_NUMBER_MODULES: Final = ("numpy", "torch", "jax", "decimal", "fractions")
_NUMBER: Final = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan)"
_KEY_VALUE: Final = re.compile(
    r"(?:^|(?<=[\s,;(\[{|]))([A-Za-z_][\w./-]*)=" + _NUMBER + r"(?![\w.])"
)
#: ``eval_loss: 1.6`` (a colon and a space; not ``12:30:00`` nor ``1/10``).
_KEY_COLON: Final = re.compile(
    r"(?:^|(?<=[\s,;(\[{|]))([A-Za-z_][\w./-]*):[ \t]+" + _NUMBER + r"(?![\w.:/])"
)
#: ``epoch 3``, ``Step 120`` (a step word and a whole number: the step of the other points).
_STEP_WORD: Final = re.compile(
    r"(?:^|(?<=[\s,;(\[{|]))(epoch|step|iter|iteration)[ \t]+(\d+)(?![\w.])", re.IGNORECASE
)


def severity_number(levelno: int) -> int:
    """The OTel severity number of stdlib level *levelno* (as OTel's own handler maps it).

    DEBUG=10 → 5, INFO=20 → 9, WARNING=30 → 13, ERROR=40 → 17, CRITICAL=50 → 21; the three
    numbers above each level get the finer severities (INFO+1 → INFO2 …); 1-9 are TRACE,
    NOTSET and below are UNSPECIFIED, and everything from 53 up is FATAL4.
    """
    if levelno <= 0:
        return 0
    if levelno < 10:
        return 1
    if levelno >= 53:
        return 24
    return 4 * (levelno // 10) + 1 + min(levelno % 10, 3)


def level_number(name: str) -> int:
    """The stdlib level number of a level or method name (``"warn"`` → 30); INFO if unknown."""
    return _LEVEL_NAMES.get(name.lower(), logging.INFO)


def metric_value(value: Any) -> float | int | None:
    """*value* as a metric point's value, or None when it is not a number.

    int and float (and their subclasses, e.g. numpy.float64) count, and so do numpy, torch
    and other numeric scalars; bools, strings, containers and arrays do not.
    """
    kind = type(value)
    if kind is float or kind is int:
        return value  # type: ignore[no-any-return]  # exactly float or int, checked above
    if isinstance(value, (bool, str, bytes)) or kind.__name__ in ("bool_", "bool"):
        return None
    if not (isinstance(value, numbers.Number) or kind.__module__.split(".")[0] in _NUMBER_MODULES):
        return None
    result = coerce(value)
    if type(result) is float or type(result) is int:
        return result
    return None


def _number(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_key_values(message: str) -> dict[str, float | int]:
    """Print-style numbers in a plain message: ``"epoch 3 loss=0.31 eval_loss: 0.4"`` →
    ``{"epoch": 3, "loss": 0.31, "eval_loss": 0.4}``.

    Pairs are ``key=value`` or ``key: value``; keys start with a letter or ``_`` and may hold
    ``. / -``; values are decimal numbers (``1e-3``, ``-0.5``, ``inf``, ``nan``). A step
    word followed by a whole number (``epoch 3``, ``Step 120``) counts as that key, in
    lower case. ``"v=1.2.3"``, ``"path=/tmp"``, ``"x = 1"``, ``"at: 12:30:00"`` and
    ``"epoch: 1/10"`` are not pairs. ``key=value`` wins over the other forms.
    """
    found: dict[str, float | int] = {}
    if ":" in message:
        found.update((key, _number(text)) for key, text in _KEY_COLON.findall(message))
    if "=" in message:
        found.update((key, _number(text)) for key, text in _KEY_VALUE.findall(message))
    for word, text in _STEP_WORD.findall(message):
        found.setdefault(word.lower(), int(text))
    return found


def split_points(
    values: Mapping[str, Any],
    step_keys: Iterable[str] = STEP_KEYS,
    ignore: frozenset[str] = frozenset(),
) -> tuple[dict[str, float | int], int | None]:
    """The metric points among *values* and their step.

    The first of *step_keys* present with a whole-number value is the step and is not a
    point itself; other step keys present are ordinary points (``epoch`` logged at
    ``step``). Keys in *ignore* or starting with ``_`` and values that are not numbers are
    skipped.
    """
    points: dict[str, float | int] = {}
    for key, raw in values.items():
        kind = type(raw)
        if kind is not float and kind is not int:  # the common case skips the call
            raw = metric_value(raw)
            if raw is None:
                continue
        if key[:1] != "_" and key not in ignore:
            points[key] = raw
    for key in step_keys:
        if key in points:
            step = check_step(points[key])
            if not isinstance(step, Invalid):
                del points[key]
                return points, step
    return points, None


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def exception_fields(
    exc_info: ExcInfo | tuple[None, None, None], stacktrace: str
) -> tuple[str, str, str] | None:
    """``(exception.type, exception.message, exception.stacktrace)`` of *exc_info*."""
    kind, value = exc_info[0], exc_info[1]
    if kind is None:
        return ("", "", stacktrace) if stacktrace else None
    module = kind.__module__
    name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    return name, str(value), stacktrace
